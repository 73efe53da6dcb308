// Replication checks for failover tests: wait until replicas are copies, and complete one replication round.
import { Redis } from 'ioredis';

/**
 * Resolves once the master on `port` has `count` replicas online whose offsets equal its own: a replica that
 * is still loading its first copy (or waiting for a delayed diskless sync) would lose everything if promoted.
 */
export async function waitForReplicas(port: number, count: number, timeoutMs: number): Promise<void> {
  const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  try {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await admin.info('replication').catch(() => '');
      if (replicasInSync(last, count)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the replicas of port ${port} were not in sync within ${timeoutMs} ms:\n${last}`);
  } finally {
    admin.disconnect();
  }
}

function replicasInSync(info: string, count: number): boolean {
  const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
  const replicas = [...info.matchAll(/^slave\d+:(.*)$/gm)].map((m) => m[1] as string);
  return (
    offset !== undefined &&
    replicas.length >= count &&
    replicas.every((r) => r.includes('state=online') && r.includes(`offset=${offset},`))
  );
}

/**
 * One replication round from the master on `masterPort` to its replica on `replicaPort`: reads the master's
 * replication offset, then waits until the replica has applied that much. When it resolves, every write the
 * master acknowledged before the call began is on the replica. Returns the time the round began.
 */
export async function replicationRound(
  masterPort: number,
  replicaPort: number,
  timeoutMs = 2_000,
): Promise<number> {
  const master = new Redis(masterPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  const replica = new Redis(replicaPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  master.on('error', () => {});
  replica.on('error', () => {});
  try {
    await Promise.all([master.ping(), replica.ping()]);
    const began = Date.now();
    const target = Number(/master_repl_offset:(\d+)/.exec(await master.info('replication'))?.[1]);
    const deadline = began + timeoutMs;
    while (Date.now() < deadline) {
      const applied = Number(/slave_repl_offset:(\d+)/.exec(await replica.info('replication'))?.[1] ?? -1);
      if (applied >= target) return began;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`the replica on port ${replicaPort} did not reach offset ${target} in ${timeoutMs} ms`);
  } finally {
    master.disconnect();
    replica.disconnect();
  }
}
