// The shop's signing secrets: from the environment, or generated once and kept beside the shop's data.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ShopSecrets {
  /** Session cookie secrets, newest first. */
  session: string[];
  /** Signs the page-view tokens. */
  pageViews: string;
}

/**
 * `SESSION_SECRETS` (comma-separated) and `PAGE_VIEW_SECRET` win. Otherwise secrets are generated on the first
 * start and stored in `<dataDir>/secrets.json` (mode 600), so sessions survive a restart of the demo.
 */
export function loadSecrets(dataDir: string, log: (line: string) => void): ShopSecrets {
  const file = join(dataDir, 'secrets.json');
  let stored: Partial<ShopSecrets> = {};
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<ShopSecrets>;
  } catch {
    stored = {
      session: [randomBytes(36).toString('base64url')],
      pageViews: randomBytes(36).toString('base64url'),
    };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
    log(`generated signing secrets in ${file} (set SESSION_SECRETS and PAGE_VIEW_SECRET in production)`);
  }
  return {
    session: process.env.SESSION_SECRETS?.split(',').filter(Boolean) ?? stored.session ?? [],
    pageViews: process.env.PAGE_VIEW_SECRET ?? stored.pageViews ?? '',
  };
}
