export type { Clock, Timer } from './clock.ts';
export { systemClock } from './clock.ts';
export { FakeClock } from './fake-clock.ts';
export { orAfter } from './or-after.ts';
