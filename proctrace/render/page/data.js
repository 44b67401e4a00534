// data.js: the embedded JSON -> typed arrays, one entry a process in tree
// order (each process followed by its descendants), and what the views
// derive from them: depth, subtree ends, concurrency, labels.  See
// proctrace/render/html.py for the fields.

function cumulative(deltas, Type) {
  const out = new Type(deltas.length);
  let value = 0;
  for (let i = 0; i < deltas.length; i++) {
    value += deltas[i];
    out[i] = value;
  }
  return out;
}

function decode(raw) {
  const n = raw.n;
  const data = {n, span: raw.span, lost: raw.lost, hidden: raw.hidden, hiddenBelow: raw.hidden_below,
    argv: raw.argv, files: raw.files, changes: raw.changes, peak: raw.peak, root: raw.root, rootEnd: raw.root_end};
  const parent = data.parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = raw.parent[i] ? i - raw.parent[i] : -1;
  const start = data.start = cumulative(raw.start, Float64Array);
  const end = data.end = new Float64Array(n);
  const noExit = data.noExit = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (raw.dur[i] < 0) {
      end[i] = raw.span;
      noExit[i] = 1;
    } else {
      end[i] = start[i] + raw.dur[i];
    }
  }
  data.pid = cumulative(raw.pid, Float64Array);
  data.ppid = (i) => parent[i] >= 0 ? data.pid[parent[i]] : data.rootPpid.get(i);
  data.pgid = new Float64Array(n);
  data.sid = new Float64Array(n);
  const depth = data.depth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = parent[i];
    data.pgid[i] = raw.pgid[i] + (p >= 0 ? data.pgid[p] : 0);
    data.sid[i] = raw.sid[i] + (p >= 0 ? data.sid[p] : 0);
    depth[i] = p >= 0 ? depth[p] + 1 : 0;
  }
  const subtreeEnd = data.subtreeEnd = new Int32Array(n);
  for (let i = n - 1; i >= 0; i--) {
    if (subtreeEnd[i] < i + 1) subtreeEnd[i] = i + 1;
    const p = parent[i];
    if (p >= 0 && subtreeEnd[p] < subtreeEnd[i]) subtreeEnd[p] = subtreeEnd[i];
  }
  data.status = raw.status;
  data.unknownStatus = new Set(raw.status_unknown);
  const failed = data.failed = new Uint8Array(n);
  let failures = 0;
  for (let i = 0; i < n; i++) {
    if (raw.status[i] !== null && raw.status[i] !== 0) {
      failed[i] = 1;
      failures++;
    }
  }
  data.failures = failures;
  data.unforked = new Set(raw.unforked);
  data.rootPpid = new Map(raw.root_ppid);
  // execs: those of process i are execFirst[i] .. execFirst[i + 1] - 1
  const execFirst = data.execFirst = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) execFirst[i + 1] = execFirst[i] + raw.nexec[i];
  const execs = execFirst[n];
  const execAt = data.execAt = new Float64Array(execs);
  for (let i = 0; i < n; i++) {
    for (let k = execFirst[i]; k < execFirst[i + 1]; k++) execAt[k] = start[i] + raw.exec_at[k];
  }
  data.execArgv = cumulative(raw.exec_argv, Int32Array);
  data.execFile = Int32Array.from(raw.exec_file);
  data.truncated = new Set(raw.truncated);
  data.own = Float64Array.from(raw.own);
  data.weighted = Float64Array.from(raw.weighted);
  data.outlived = new Map(raw.outlived);
  decodeCritical(data, raw.critical);
  data.labels = new Map();
  buildConcurrency(data);
  return data;
}

// the critical path: segment s runs from cpStart[s] to cpStart[s + 1] (the last to the root's end)
function decodeCritical(data, critical) {
  const count = critical.proc.length;
  data.cpProc = Int32Array.from(critical.proc);
  data.cpStart = cumulative(critical.start, Float64Array);
  data.cpEnd = new Float64Array(count);
  for (let s = 0; s < count; s++) data.cpEnd[s] = s + 1 < count ? data.cpStart[s + 1] : data.rootEnd;
  data.cpExec = Int32Array.from(critical.exec);
  data.cpByProc = new Map();
  for (let s = 0; s < count; s++) {
    const proc = data.cpProc[s];
    if (!data.cpByProc.has(proc)) data.cpByProc.set(proc, []);
    data.cpByProc.get(proc).push(s);
  }
}

// running processes over time: times at which the count changes, and the count from then on
function buildConcurrency(data) {
  const n = data.n;
  const starts = Float64Array.from(data.start).sort();
  const ends = Float64Array.from(data.end).sort();
  const times = new Float64Array(2 * n);
  const counts = new Int32Array(2 * n);
  let i = 0;
  let j = 0;
  let running = 0;
  let k = 0;
  while (i < n || j < n) {
    // ends first at a time, as the analysis counts them
    if (j < n && (i >= n || ends[j] <= starts[i])) {
      running--;
      times[k] = ends[j++];
    } else {
      running++;
      times[k] = starts[i++];
    }
    counts[k++] = running;
  }
  data.ccTime = times;
  data.ccCount = counts;
}

// the index of the first entry of sorted `array` greater than `value`
function upperBound(array, value) {
  let low = 0;
  let high = array.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (array[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

// the exec process i was running at time t: [exec index or -1, the process that exec'd]
function execAtTime(data, i, t) {
  let proc = i;
  let time = t;
  while (proc >= 0) {
    let found = -1;
    for (let k = data.execFirst[proc]; k < data.execFirst[proc + 1]; k++) {
      if (data.execAt[k] <= time) found = k;
    }
    if (found >= 0) return [found, proc];
    time = data.start[proc];
    proc = data.parent[proc];
  }
  return [-1, -1];
}

function execLabel(data, k) {
  return commandLabel(data.argv[data.execArgv[k]], 300);
}

// what process i ran last, or what it was forked running, "(fork)" added
function processLabel(data, i) {
  let label = data.labels.get(i);
  if (label !== undefined) return label;
  const count = data.execFirst[i + 1] - data.execFirst[i];
  if (count > 0) {
    label = execLabel(data, data.execFirst[i + 1] - 1);
  } else {
    const [k] = execAtTime(data, i, data.start[i]);
    label = (k >= 0 ? execLabel(data, k) : "(unknown command)") + " (fork)";
  }
  data.labels.set(i, label);
  return label;
}

function segmentLabel(data, s) {
  const proc = data.cpProc[s];
  const k = data.cpExec[s] >= 0 ? data.execFirst[proc] + data.cpExec[s] : execAtTime(data, proc, data.cpStart[s])[0];
  return k >= 0 ? execLabel(data, k) : "(before its first exec)";  // as the summary says it
}

// which processes the timeline shows, in tree order: none inside a collapsed
// subtree, none shorter than `minimum` whose descendants are all hidden too
function visibleRows(data, collapsed, minimum) {
  const n = data.n;
  let keep = null;
  if (minimum > 0) {
    keep = new Uint8Array(n);
    for (let i = n - 1; i >= 0; i--) {
      if (data.parent[i] < 0 || data.end[i] - data.start[i] >= minimum) keep[i] = 1;
      if (keep[i] && data.parent[i] >= 0) keep[data.parent[i]] = 1;
    }
  }
  const rows = new Int32Array(n);
  let count = 0;
  let hidden = 0;
  for (let i = 0; i < n;) {
    if (keep && !keep[i]) {
      hidden++;
      i++;
      continue;
    }
    rows[count++] = i;
    i = collapsed[i] ? data.subtreeEnd[i] : i + 1;
  }
  return {rows: rows.subarray(0, count), hidden};
}
