// Every benchmark scenario, in the order the results table lists them.

import type { Scenario } from '../lib/types.js';
import { cacheRendered, cacheTrivial, cacheWaiting } from './cache.js';
import { fullStack, fullStackTrivial } from './full-stack.js';
import { pageViewsScenario } from './page-views.js';
import { rateLimitOneKeyScenario, rateLimitScenario } from './rate-limit.js';
import { sessionRead, sessionWrite } from './session.js';

export const scenarios: Scenario[] = [
  sessionRead,
  sessionWrite,
  rateLimitScenario,
  rateLimitOneKeyScenario,
  cacheTrivial,
  cacheRendered,
  cacheWaiting,
  pageViewsScenario,
  fullStack,
  fullStackTrivial,
];
