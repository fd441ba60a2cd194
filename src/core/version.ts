/** Rampart's version, as in package.json (pinned by test/unit/version.test.ts). */
export const VERSION = '0.1.0';
