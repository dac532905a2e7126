import type { Dispatcher } from 'undici';

/** Called once per request: the response status (0 if none) and the error, if any. */
export type Done = (statusCode: number, error: Error | null) => void;

/**
 * One request through undici's lowest-level API: no Promise, no body stream; the
 * response body is read and dropped. Keeps the load generator's own CPU per
 * request small, which matters when it shares two cores with what it measures.
 */
export function send(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, done: Done): void {
  let statusCode = 0;
  let finished = false;
  const finish = (error: Error | null): void => {
    if (finished) return;
    finished = true;
    done(statusCode, error);
  };
  dispatcher.dispatch(options, {
    // undici treats a handler without onRequestStart as one of its legacy shape.
    onRequestStart() {},
    onResponseStart(_controller, status) {
      statusCode = status;
    },
    onResponseData() {},
    onResponseEnd() {
      finish(null);
    },
    onResponseError(_controller, error) {
      finish(error);
    },
  });
}
