// format.js: numbers and commands as text for people.  argv comes from
// whoever ran the command: it only ever becomes text (textContent, canvas
// fillText), so nothing here escapes markup; it makes invisible characters
// visible instead, as the other views do (\n, \xNN for a byte that is not
// UTF-8, which the recording holds as a lone surrogate U+DC80-U+DCFF).

const MICRO = "\u00b5s";

function formatDuration(ns) {
  const size = Math.abs(ns);
  if (size >= 1e10) return (ns / 1e9).toFixed(1) + " s";
  if (size >= 1e9) return (ns / 1e9).toFixed(2) + " s";
  if (size >= 1e7) return (ns / 1e6).toFixed(0) + " ms";
  if (size >= 1e6) return (ns / 1e6).toFixed(2) + " ms";
  if (size >= 1e4) return (ns / 1e3).toFixed(0) + " " + MICRO;
  if (size >= 1e3) return (ns / 1e3).toFixed(2) + " " + MICRO;
  return Math.round(ns) + " ns";
}

// a time on the axis: seconds from the first event, to the precision the step needs
function formatTime(ns, step) {
  const digits = Math.max(0, Math.min(9, Math.ceil(-Math.log10(step / 1e9) - 1e-9)));
  return (ns / 1e9).toFixed(digits) + " s";
}

// "1,234" for counts
function formatCount(count) {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
  8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
  15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"};

// status: the exit code, minus the signal, or null (no exit seen)
function formatStatus(status, unknown) {
  if (status === null) return "no exit seen (drawn to the end of the recording)";
  if (unknown) return "exited (status not recorded)";
  if (status < 0) return "killed by " + (SIGNALS[-status] || "signal " + (-status));
  return "exit " + status;
}

// control characters, line and paragraph separators, lone surrogates
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"};

function hex(code, width) {
  return code.toString(16).padStart(width, "0");
}

// a string with its control characters and lone surrogates written visibly
function visible(text) {
  return text.replace(INVISIBLE, (char) => {
    if (ESCAPES[char]) return ESCAPES[char];
    const code = char.charCodeAt(0);
    if (code >= 0xdc80 && code <= 0xdcff) return "\\x" + hex(code - 0xdc00, 2);
    if (code >= 0xd800 || code > 0xff) return "\\u" + hex(code, 4);
    return "\\x" + hex(code, 2);
  });
}

const NEEDS_QUOTES = /[\s'"]/;
const NIX_STORE = /\/nix\/store\/[0-9a-z]{32}-[^/\s]*\/(?:s?bin\/)?/g;

// a readable one-line command, quoted like a shell would need it
function commandLabel(argv, limit) {
  if (!argv || argv.length === 0) return "(empty argv)";
  let text = argv.map((arg) => (arg === "" || NEEDS_QUOTES.test(arg)) ? "'" + arg.replace(/'/g, "'\\''") + "'" : arg)
    .join(" ");
  text = visible(text.replace(NIX_STORE, "<store>/"));
  if (limit && text.length > limit) {
    const head = Math.floor(limit * 2 / 3);
    text = text.slice(0, head) + "\u2026" + text.slice(text.length - (limit - head - 1));
  }
  return text;
}

// one argument of an argv, exactly, in double quotes
function quotedArg(arg) {
  return "\"" + visible(arg.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")) + "\"";
}

// "10ms", "1.5 s", "250us", "2m" -> ns (NaN when it is not a duration)
function parseDuration(text) {
  const match = /^\s*([0-9]*\.?[0-9]+)\s*(ns|us|\u00b5s|ms|s|m|min)?\s*$/i.exec(text);
  if (!match) return NaN;
  const scale = {ns: 1, us: 1e3, "\u00b5s": 1e3, ms: 1e6, s: 1e9, m: 6e10, min: 6e10}[(match[2] || "ms").toLowerCase()];
  return parseFloat(match[1]) * scale;
}

// a hue a process keeps wherever it is drawn (the critical path's segments)
function processHue(index) {
  return 50 + (index * 137.508) % 250;  // no reds: red means failed
}
