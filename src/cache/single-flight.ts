// Single-flight: concurrent misses for one entry in this process wait for the one fill that runs.

/** A fill in progress in this process; requests for the same entry wait for its result. */
export interface Flight {
  readonly promise: Promise<Buffer | undefined>;
  resolve(value: Buffer | undefined): void;
  timer: NodeJS.Timeout | undefined;
}

/** The fills running in this process, by entry hash. */
export class SingleFlight {
  readonly #flights = new Map<string, Flight>();
  readonly #timeoutMs: number;

  /** `timeoutMs`: how long waiters wait at most once the fill renders (the fill lock's lifetime). */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** What the fill running for `hash` will deliver, or undefined when none runs. */
  running(hash: string): Promise<Buffer | undefined> | undefined {
    return this.#flights.get(hash)?.promise;
  }

  /** Starts the flight of `hash`: later requests for it wait for {@link settle}. */
  open(hash: string): Flight {
    let resolve: (value: Buffer | undefined) => void = () => {};
    const promise = new Promise<Buffer | undefined>((r) => {
      resolve = r;
    });
    // No timer yet: until it renders, the holder is bounded by the Redis timeout and by lockTimeout.
    const flight: Flight = { promise, resolve, timer: undefined };
    this.#flights.set(hash, flight);
    return flight;
  }

  /** Waiters never wait longer than a render may hold the lock: then they go to the handler themselves. */
  arm(hash: string, flight: Flight): void {
    flight.timer = setTimeout(expire, this.#timeoutMs, this, hash, flight);
    flight.timer.unref();
  }

  /** Ends a flight: waiters get `value` (an entry they may serve) or undefined (go to the handler). */
  settle(hash: string, flight: Flight, value: Buffer | undefined): void {
    if (flight.timer !== undefined) clearTimeout(flight.timer);
    flight.timer = undefined;
    if (this.#flights.get(hash) === flight) this.#flights.delete(hash);
    flight.resolve(value);
  }
}

function expire(flights: SingleFlight, hash: string, flight: Flight): void {
  flight.timer = undefined;
  flights.settle(hash, flight, undefined);
}
