// The CLI's version, printed by `outpost --version` and sent by runners in their hello.
export const CLI_VERSION = '0.1.0';
