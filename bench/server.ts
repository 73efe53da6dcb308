// Child process entry: builds one variant of one scenario and listens (argv: scenario variant port redisUrl prefix).
import { serveMeter } from './lib/meter.js';
import { scenarios } from './scenarios/index.js';

const [scenarioId, variantName, port, redisUrl, prefix] = process.argv.slice(2);
const scenario = scenarios.find((s) => s.id === scenarioId);
const variant = scenario?.variants.find((v) => v.name === variantName);
if (!scenario || !variant || !port || !redisUrl || !prefix) {
  console.error(
    `usage: server.ts <scenario> <variant> <port> <redisUrl> <prefix> (got ${process.argv.slice(2)})`,
  );
  process.exit(2);
}

const app = await variant.app({ redisUrl, prefix });
serveMeter();
const server = app.listen(Number(port), '127.0.0.1', () => console.log('READY'));
server.keepAliveTimeout = 60_000;
// Exit normally (not by the signal) so that `--cpu-prof`, when given, writes its profile.
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
