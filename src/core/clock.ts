/** The core never reads the clock itself: it is handed one. Tests pass a fixed or steppable clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

export function isoAt(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}
