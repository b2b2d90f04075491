// A message to a Discord-compatible channel: the URL, the bot header and a body that can ping
// nobody (`allowed_mentions: {parse: []}` turns @everyone, @here, users and roles into text).
import { SERVER_VERSION } from '../version.ts';

export interface DiscordMessage {
  /** e.g. https://discord.com/api/v10, without a trailing slash. */
  apiBaseUrl: string;
  channel: string;
  token: string;
  content: string;
}

/** The parts of a PostRequest that say what to send where. */
export function discordRequest(message: DiscordMessage) {
  return {
    url: `${message.apiBaseUrl}/channels/${encodeURIComponent(message.channel)}/messages`,
    body: JSON.stringify({ content: message.content, allowed_mentions: { parse: [] } }),
    headers: {
      authorization: `Bot ${message.token}`,
      // Discord asks bots for a User-Agent of this form.
      'user-agent': `DiscordBot (https://github.com/outpost, ${SERVER_VERSION})`,
    },
    label: 'Discord API',
  };
}
