// How a callback's target is shown in reads, events and logs. A webhook URL may itself be a
// credential (Discord and Slack webhooks put their token in the path), so only its origin shows.

/**
 * The channel id of a discord callback as is; a webhook URL cut to its origin, with `/…` when
 * the path or query held more.
 * @example shownTarget('webhook', 'https://hooks.example.com/T0/abc?x=1') // 'https://hooks.example.com/…'
 */
export function shownTarget(kind: string, target: string): string {
  if (kind !== 'webhook') return target;
  if (!URL.canParse(target)) return '(invalid URL)';
  const url = new URL(target);
  const more = url.pathname !== '/' || url.search !== '';
  return more ? `${url.origin}/…` : url.origin;
}
