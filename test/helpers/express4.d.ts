// Express 4 is installed under the alias `express4`; its API is typed like Express 5's for the tests' purposes.
declare module 'express4' {
  import type express from 'express';

  const express4: typeof express;
  export default express4;
}
