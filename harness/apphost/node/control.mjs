// The control channel from an instance to the platform: newline-delimited JSON written to the
// pipe whose descriptor the platform passes in PGSTAMPEDE_CONTROL_FD.
//
//   {"pending": N}                                   the count of work pending after responses
//                                                    changed: waitUntil promises not settled,
//                                                    plus each response from its res.end()
//                                                    until one event-loop turn after it
//                                                    finished (host.mjs, holdTheEnd)
//   {"exception": {"type", "message", "where"}}      an unhandled exception ("where" is
//                                                    "file:line" of the app's own frame, or "")
//
// Every line is written synchronously, and a response's own unit is counted before its bytes
// are written: when the platform sees a response complete, the count it has read is above 0
// until the handler's code after res.end() (a waitUntil call there included) has run. It
// freezes an instance once nothing is in flight and the last count read is 0.
// Without the variable (a host run by hand) nothing is written.

import { writeSync } from "node:fs";

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export class Control {
  /** @param {number | null} fd */
  constructor(fd) {
    this.fd = fd;
    this.pending = 0;
  }

  /** @param {NodeJS.ProcessEnv} env */
  static fromEnv(env) {
    const raw = env.PGSTAMPEDE_CONTROL_FD;
    if (raw === undefined || raw === "") return new Control(null);
    const fd = Number(raw);
    if (!Number.isInteger(fd) || fd < 0) {
      throw new Error(`PGSTAMPEDE_CONTROL_FD: expected a file descriptor, got ${JSON.stringify(raw)}`);
    }
    return new Control(fd);
  }

  /** One more (+1) or one fewer (-1) piece of work pending after responses. */
  add(delta) {
    this.pending += delta;
    this.send({ pending: this.pending });
  }

  /** @param {{type: string, message: string, where: string}} report */
  exception(report) {
    this.send({ exception: report });
  }

  send(message) {
    if (this.fd === null) return;
    const data = Buffer.from(JSON.stringify(message) + "\n");
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset);
      } catch (error) {
        if (error.code === "EAGAIN") {
          Atomics.wait(PAUSE, 0, 0, 1); // a full non-blocking pipe: wait 1 ms for the reader
          continue;
        }
        // The platform closed its end (it is stopping us): nothing more to tell it.
        process.stderr.write(`pgstampede node host: control channel closed (${error.code})\n`);
        this.fd = null;
        return;
      }
    }
  }
}
