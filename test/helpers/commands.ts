// Records the commands one client sends, through MONITOR, so tests can count Redis round trips exactly.
import type { Redis } from 'ioredis';

export interface CommandRecorder {
  /** Stops recording and returns the commands seen, each as `[name, ...args]` (name in lower case). */
  stop(): Promise<string[][]>;
}

/**
 * Starts recording what `client` sends. Only that connection's commands count, so other test files writing
 * to the same Redis at the same time do not disturb the numbers.
 */
export async function recordCommands(client: Redis): Promise<CommandRecorder> {
  const info = String(await client.call('CLIENT', 'INFO'));
  const addr = /(?:^| )addr=(\S+)/.exec(info)?.[1];
  if (!addr) throw new Error(`CLIENT INFO gave no addr: ${info}`);
  const monitor = await client.monitor();
  const seen: string[][] = [];
  const marker = `recorder-stop-${Math.random().toString(36).slice(2)}`;
  let markerSeen: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    markerSeen = resolve;
  });
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== addr) return;
    if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) {
      markerSeen();
      return;
    }
    seen.push([String(args[0]).toLowerCase(), ...args.slice(1)]);
  });
  return {
    async stop() {
      // MONITOR reports a command after it ran: a marker sent last proves everything before it was seen.
      await client.echo(marker);
      await stopped;
      monitor.disconnect();
      return seen;
    },
  };
}
