/**
 * Keeps workerd's own notes about connections the workers tests break on purpose out of a passing run:
 * a webhook sent to the receiver that is down (DEAD_URL) or that drops the connection is logged by the
 * runtime with a native stack (and once more as an "uncaught" rejection inside the pool's fetch),
 * although the Worker catches the error and the test asserts what it recorded; and the pool's runner
 * socket closing after each file. Only these exact lines go, each with the native `stack:` line that
 * follows it; anything else workerd prints (a crash, a real uncaught error) still shows.
 */
const EXPECTED = [
  /^exception = kj\/async-io-unix\.c\+\+:\d+: disconnected: connect\(\): Connection refused$/,
  /^exception = kj\/async-io\.c\+\+:\d+: disconnected: stream disconnected prematurely$/,
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: Network connection lost\.$/,
  /^uncaught exception; exception = workerd\/jsg\/\S+: disconnected: jsg\.Error: Network connection lost\.$/,
  /^exception = workerd\/api\/web-socket\.c\+\+:\d+: disconnected: WebSocket peer disconnected$/,
];
/** A native stack as workerd prints it: addresses in its own binary, nothing else. */
const NATIVE_STACK = /^stack:( \S+workerd@[0-9a-f]+)+$/;

type Write = typeof process.stdout.write;

function filter(stream: NodeJS.WriteStream) {
  const write: Write = stream.write.bind(stream);
  let dropping = false;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== "string" && !Buffer.isBuffer(chunk)) return write(chunk as never, ...(rest as []));
    const lines = chunk.toString().split("\n");
    const kept = lines.filter((line, i) => {
      if (i === lines.length - 1 && line === "") return true;
      if (EXPECTED.some((pattern) => pattern.test(line))) return !(dropping = true);
      if (dropping && NATIVE_STACK.test(line)) return false;
      dropping = false;
      return true;
    });
    if (kept.length === lines.length) return write(chunk as never, ...(rest as []));
    const text = kept.join("\n");
    if (text === "") {
      const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
      callback?.();
      return true;
    }
    return write(text, ...(rest as []));
  }) as Write;
}

let installed = false;
/** Filters stdout and stderr of this (the main) process, where the pool prints workerd's logs. */
export function quietWorkerd() {
  if (installed) return;
  installed = true;
  filter(process.stdout);
  filter(process.stderr);
}
