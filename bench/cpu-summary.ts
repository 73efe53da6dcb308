// `npx tsx bench/cpu-summary.ts <file.cpuprofile> [top]`: prints a profile's top functions and files by self time.
import { profileMarkdown, summariseProfile } from './lib/cpu-profile.js';

const [file, top] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpu-summary.ts <file.cpuprofile> [top, default 20]');
  process.exit(2);
}
console.log(profileMarkdown(summariseProfile(file), Number(top ?? 20)));
