// Both supported Express majors, so suites can run the same tests on Express 4 and Express 5.
import express5 from 'express';
import express4 from 'express4';

export type ExpressFactory = typeof express5;

/** `[name, express]` pairs for `describe.each`. */
export const expressVersions: readonly (readonly [string, ExpressFactory])[] = [
  ['express 4', express4 as unknown as ExpressFactory],
  ['express 5', express5],
];
