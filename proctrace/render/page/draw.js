// draw.js: the canvases.  Each is the size of its place in the window and
// is redrawn whole on every scroll, zoom or resize: only the rows and the
// time range on screen are ever drawn, so the cost does not grow with the
// recording.

const ROW = 18;
const AXIS = 22;
const COLOURS = {bar: "#4e79a7", forked: "#9ab7d3", failed: "#e15759", failedForked: "#f0a3a4",
  running: "#9aa0a6", critical: "#f28e2b", outlived: "#8e44ad", grid: "#e6e8eb", text: "#1d232a",
  muted: "#5f6b76", selected: "#fff3c4", hover: "#eef3f8", gutter: "#f7f8fa"};

// a canvas sized to its box, in device pixels; returns its 2D context set to CSS pixels
function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.font = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
  context.textBaseline = "middle";
  return {context, width, height};
}

// where time t falls on a plot of `width` px starting at `left`
function makeScale(view, left, width) {
  const factor = width / Math.max(1, view.t1 - view.t0);
  return {x: (t) => left + (t - view.t0) * factor, t: (x) => view.t0 + (x - left) / factor, factor};
}

function niceStep(span, pixels) {
  const raw = span / Math.max(1, pixels / 90);
  const power = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  for (const factor of [1, 2, 5, 10]) {
    if (power * factor >= raw) return power * factor;
  }
  return power * 10;
}

function drawAxis(context, scale, view, left, width, top, height) {
  const step = niceStep(view.t1 - view.t0, width);
  context.fillStyle = COLOURS.muted;
  context.strokeStyle = COLOURS.grid;
  context.textAlign = "left";
  context.beginPath();
  for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
    const x = Math.round(scale.x(t)) + 0.5;
    context.moveTo(x, top);
    context.lineTo(x, top + height);
    context.fillText(formatTime(t, step), x + 3, AXIS / 2);
  }
  context.stroke();
}

// text cut to fit `room` px (ellipsis at the end)
function fitText(context, text, room) {
  if (room < 8) return "";
  if (context.measureText(text).width <= room) return text;
  let low = 0;
  let high = Math.min(text.length, Math.ceil(room / 3));
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (context.measureText(text.slice(0, middle) + "\u2026").width <= room) low = middle;
    else high = middle - 1;
  }
  return low ? text.slice(0, low) + "\u2026" : "";
}

function drawTimeline(canvas, data, state) {
  const {context, width, height} = fitCanvas(canvas);
  const gutter = Math.min(state.gutter, width / 2);
  const plotWidth = width - gutter - 8;
  const scale = makeScale(state.view, gutter, plotWidth);
  context.clearRect(0, 0, width, height);
  context.fillStyle = COLOURS.gutter;
  context.fillRect(0, 0, gutter, height);
  drawAxis(context, scale, state.view, gutter, plotWidth, AXIS, height - AXIS);
  const rows = state.rows;
  const first = Math.max(0, Math.floor(state.top));
  const shown = Math.ceil((height - AXIS) / ROW) + 1;
  context.save();
  context.beginPath();
  context.rect(0, AXIS, width, height - AXIS);
  context.clip();
  for (let r = first; r < Math.min(rows.length, first + shown); r++) {
    const i = rows[r];
    const y = AXIS + (r - state.top) * ROW;
    if (i === state.selected || i === state.hover) {
      context.fillStyle = i === state.selected ? COLOURS.selected : COLOURS.hover;
      context.fillRect(0, y, width, ROW);
    }
    drawGutterRow(context, data, state, i, y, gutter);
    drawBar(context, data, state, scale, i, y, gutter, width);
  }
  context.restore();
  if (data.outlived.size) {  // the command's exit: what is right of it outlived it
    const x = scale.x(data.rootEnd);
    if (x > gutter && x < width) {
      context.strokeStyle = COLOURS.outlived;
      context.setLineDash([4, 3]);
      context.beginPath();
      context.moveTo(Math.round(x) + 0.5, AXIS);
      context.lineTo(Math.round(x) + 0.5, height);
      context.stroke();
      context.setLineDash([]);
    }
  }
  return scale;
}

function drawGutterRow(context, data, state, i, y, gutter) {
  const indent = Math.min(data.depth[i] * 12, gutter / 2);
  const middle = y + ROW / 2;
  context.fillStyle = COLOURS.muted;
  if (data.subtreeEnd[i] > i + 1) {
    context.textAlign = "left";
    context.fillText(state.collapsed[i] ? "\u25b8" : "\u25be", indent + 4, middle);
  }
  if (data.cpByProc.has(i)) {
    context.fillStyle = COLOURS.critical;
    context.fillRect(indent + 16, y + 5, 3, ROW - 10);
  }
  context.fillStyle = data.failed[i] ? COLOURS.failed : COLOURS.text;
  context.textAlign = "left";
  const label = data.pid[i] + " " + processLabel(data, i);
  context.fillText(fitText(context, label, gutter - indent - 26), indent + 22, middle);
}

function drawBar(context, data, state, scale, i, y, gutter, width) {
  const start = data.start[i];
  const end = data.end[i];
  if (end < state.view.t0 || start > state.view.t1) return;
  const x0 = Math.max(gutter, scale.x(start));
  const x1 = Math.min(width, Math.max(scale.x(end), scale.x(start) + 1));
  const top = y + 3;
  const height = ROW - 6;
  const failed = data.failed[i];
  const firstExec = data.execFirst[i] < data.execFirst[i + 1] ? data.execAt[data.execFirst[i]] : end;
  // before its first exec a process runs what it was forked with: a lighter shade
  context.fillStyle = data.noExit[i] ? COLOURS.running : failed ? COLOURS.failed : COLOURS.bar;
  context.fillRect(x0, top, Math.max(1, x1 - x0), height);
  if (firstExec > start) {
    const xe = Math.min(x1, scale.x(firstExec));
    context.fillStyle = failed ? COLOURS.failedForked : COLOURS.forked;
    if (xe > x0) context.fillRect(x0, top, xe - x0, height);
  }
  // exec boundaries
  if (x1 - x0 > 4) {
    context.fillStyle = "#ffffff";
    for (let k = data.execFirst[i]; k < data.execFirst[i + 1]; k++) {
      const x = scale.x(data.execAt[k]);
      if (x > x0 + 1 && x < x1 - 1) context.fillRect(Math.round(x), top, 1.5, height);
    }
  }
  // past the root's exit: stripes (it outlived the command)
  if (data.outlived.has(i)) {
    const xo = Math.max(x0, scale.x(data.rootEnd));
    context.fillStyle = COLOURS.outlived;
    for (let x = xo; x < x1; x += 6) context.fillRect(x, top, 2, height);
    context.fillRect(Math.max(x0, x1 - 3), top - 2, 3, height + 4);
  }
  // its stretches on the critical path
  const segments = data.cpByProc.get(i);
  if (segments) {
    context.fillStyle = COLOURS.critical;
    for (const s of segments) {
      const a = Math.max(x0, scale.x(data.cpStart[s]));
      const b = Math.min(x1, scale.x(data.cpEnd[s]));
      if (b >= a) context.fillRect(a, y + ROW - 4, Math.max(1, b - a), 3);
    }
  }
  if (x1 - x0 > 40) {
    context.fillStyle = "#ffffff";
    context.textAlign = "left";
    const text = fitText(context, processLabel(data, i), x1 - x0 - 8);
    if (text) context.fillText(text, x0 + 4, y + ROW / 2);
  }
}

// the critical path: one bar whose segments tile the root's life
function drawCritical(canvas, data, state) {
  const {context, width, height} = fitCanvas(canvas);
  const gutter = Math.min(state.gutter, width / 2);
  const scale = makeScale(state.view, gutter, width - gutter - 8);
  context.clearRect(0, 0, width, height);
  context.fillStyle = COLOURS.text;
  context.textAlign = "left";
  context.fillText("critical path", 8, height / 2);
  const count = data.cpProc.length;
  if (!count) return scale;
  let s = Math.max(0, upperBound(data.cpStart, state.view.t0) - 1);
  let drawn = -1;  // the last pixel column drawn: segments within it are not drawn again
  for (; s < count && data.cpStart[s] <= state.view.t1; s++) {
    const a = Math.max(gutter, scale.x(data.cpStart[s]));
    const b = Math.min(width, scale.x(data.cpEnd[s]));
    if (b < gutter || (Math.floor(b) <= drawn && s !== state.hoverSegment)) continue;
    drawn = Math.floor(b);
    const hue = processHue(data.cpProc[s]);
    context.fillStyle = s === state.hoverSegment ? "hsl(" + hue + ", 70%, 40%)" : "hsl(" + hue + ", 55%, 62%)";
    context.fillRect(a, 4, Math.max(1, b - a - (b - a > 3 ? 1 : 0)), height - 8);
    if (b - a > 50) {
      context.fillStyle = COLOURS.text;
      context.fillText(fitText(context, segmentLabel(data, s), b - a - 6), a + 3, height / 2);
    }
  }
  return scale;
}

// how many processes run at each moment (the highest count under each pixel)
function drawConcurrency(canvas, data, state) {
  const {context, width, height} = fitCanvas(canvas);
  const gutter = Math.min(state.gutter, width / 2);
  const plotWidth = width - gutter - 8;
  const scale = makeScale(state.view, gutter, plotWidth);
  context.clearRect(0, 0, width, height);
  const peak = Math.max(1, data.peak[0]);
  context.fillStyle = COLOURS.text;
  context.textAlign = "left";
  context.fillText("running processes", 8, 12);
  context.fillStyle = COLOURS.muted;
  context.fillText("peak " + data.peak[0] + " at " + formatTime(data.peak[1], 1e6), 8, 30);
  const times = data.ccTime;
  const counts = data.ccCount;
  let k = upperBound(times, state.view.t0);
  let carry = k > 0 ? counts[k - 1] : 0;
  context.fillStyle = "rgba(78, 121, 167, 0.55)";
  for (let column = 0; column < plotWidth; column++) {
    // the most that ran at once within this pixel's time
    const until = scale.t(gutter + column + 1);
    let most = carry;
    while (k < times.length && times[k] < until) {
      carry = counts[k++];
      if (carry > most) most = carry;
    }
    const bar = (most / peak) * (height - 6);
    if (bar > 0) context.fillRect(gutter + column, height - bar, 1, bar);
  }
  return scale;
}
