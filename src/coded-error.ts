// One error shape for failures named by a stable code (for programs, and for
// the control protocol, which passes it on) and a message (for people). Each
// part that raises them names its own kind with an empty subclass, so a catch
// can still tell a queue refusal from a failure of the control socket.

export class CodedError<Code extends string = string> extends Error {
  constructor(readonly code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
