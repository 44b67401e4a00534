// page.js: the page itself: header, controls, the three canvases sharing
// one time axis, the tooltip and the details of the selected process.

function statItem(name, value, className) {
  return element("div", "stat" + (className ? " " + className : ""), null,
    [element("dt", null, name), element("dd", null, value)]);
}

function header(data) {
  const root = data.root;
  const box = element("header");
  const title = root >= 0 ? processLabel(data, root) : "(empty recording)";
  document.title = "proctrace: " + title;
  box.appendChild(element("h1", null, title));
  const wall = root >= 0 ? data.rootEnd - data.start[root] : 0;
  const outcome = root >= 0 ? formatStatus(data.status[root], data.unknownStatus.has(root)) : "";
  const stats = element("dl", "stats", null, [
    statItem("wall time", formatDuration(wall)),
    statItem("exit status", outcome, root >= 0 && data.failed[root] ? "bad" : ""),
    statItem("processes", formatCount(data.n)),
    statItem("peak concurrency", data.peak[0] + " at " + formatTime(data.peak[1], 1e6)),
    statItem("failures", formatCount(data.failures), data.failures ? "bad" : ""),
    statItem("outlived the command", formatCount(data.outlived.size), data.outlived.size ? "warn" : ""),
  ]);
  box.appendChild(stats);
  const notes = [];
  if (data.lost) notes.push("The recording is incomplete: the kernel lost " + formatCount(data.lost) + " events.");
  const running = data.noExit.reduce((sum, flag) => sum + flag, 0);
  if (running) notes.push(formatCount(running) + " processes have no exit: drawn to the end of the recording.");
  if (data.hidden) {
    notes.push(formatCount(data.hidden) + " processes shorter than " + formatDuration(data.hiddenBelow) +
      " were left out (--min-duration).");
  }
  for (const note of notes) box.appendChild(element("p", "note", note));
  return box;
}

function legend() {
  const items = [["bar", "ran"], ["forked", "before its first exec"], ["failed", "failed"],
    ["running", "no exit seen"], ["critical", "critical path"], ["outlived", "outlived the command"]];
  return element("div", "legend", null, items.map(([name, text]) =>
    element("span", "key", null, [element("span", "swatch " + name), document.createTextNode(text)])));
}

function tooltipLines(data, i) {
  const lines = [processLabel(data, i)];
  lines.push("pid " + data.pid[i] + "  ppid " + data.ppid(i) + "  pgid " + data.pgid[i] +
    (data.sid[i] >= 0 ? "  sid " + data.sid[i] : ""));
  lines.push(formatStatus(data.status[i], data.unknownStatus.has(i)));
  lines.push(formatTime(data.start[i], 1e3) + " \u2192 " + formatTime(data.end[i], 1e3) + "  (" +
    formatDuration(data.end[i] - data.start[i]) + ")");
  const last = data.execFirst[i + 1] - 1;
  if (last >= data.execFirst[i]) {
    const argv = data.argv[data.execArgv[last]].map(quotedArg).join(" ");
    lines.push("argv: " + (argv.length > 3000 ? argv.slice(0, 3000) + " \u2026 (all of it in the details below)" : argv));
  }
  return lines.join("\n");
}

function detailRow(name, value) {
  return element("tr", null, null, [element("th", null, name), element("td", null, value)]);
}

function showDetails(box, data, i) {
  box.textContent = "";
  if (i < 0) {
    box.appendChild(element("p", "note", "Select a bar (click it) to see all of its process here."));
    return;
  }
  box.appendChild(element("h2", null, processLabel(data, i)));
  const parent = data.parent[i];
  const cp = (data.cpByProc.get(i) || []).reduce((sum, s) => sum + data.cpEnd[s] - data.cpStart[s], 0);
  const rows = [
    ["pid", String(data.pid[i])],
    ["ppid", String(data.ppid(i)) + (parent >= 0 ? "" : " (not in the recording)")],
    ["pgid", String(data.pgid[i])], ["sid", data.sid[i] >= 0 ? String(data.sid[i]) : "unknown"],
    ["exit status", formatStatus(data.status[i], data.unknownStatus.has(i))],
    ["started", formatTime(data.start[i], 1) + (data.unforked.has(i) ? " (its fork was not recorded)" : "")],
    ["ended", formatTime(data.end[i], 1) + (data.noExit[i] ? " (the recording's end)" : "")],
    ["duration", formatDuration(data.end[i] - data.start[i])], ["own time", formatDuration(data.own[i])],
    ["weighted time", formatDuration(data.weighted[i])],
    ["on the critical path", cp ? formatDuration(cp) : "no"],
    ["descendants", formatCount(data.subtreeEnd[i] - i - 1)],
  ];
  if (data.outlived.has(i)) rows.push(["outlived the command by", formatDuration(data.outlived.get(i))]);
  box.appendChild(element("table", "facts", null, rows.map(([name, value]) => detailRow(name, value))));
  for (let k = data.execFirst[i]; k < data.execFirst[i + 1]; k++) {
    const file = data.execFile[k] >= 0 ? data.files[data.execFile[k]] : "(not recorded)";
    box.appendChild(element("h3", null, "exec at " + formatTime(data.execAt[k], 1) + ": " + visible(file) +
      (data.truncated.has(k) ? " (argv cut short by the recorder)" : "")));
    box.appendChild(element("ol", "argv", null, data.argv[data.execArgv[k]].map((arg) =>
      element("li", null, quotedArg(arg)))));
  }
  if (data.execFirst[i] === data.execFirst[i + 1]) {
    box.appendChild(element("p", "note", "It never exec'd: it ran what it was forked with."));
  }
  for (const [index, at, setpgid, pgid, sid] of data.changes) {
    if (index !== i) continue;
    box.appendChild(element("p", "note", (setpgid ? "setpgid" : "setsid") + " at " + formatTime(at, 1) +
      ": pgid " + pgid + (sid !== undefined ? ", sid " + sid : "")));
  }
}

function start() {
  const data = decode(JSON.parse(document.getElementById("proctrace-data").textContent));
  const state = {view: {t0: 0, t1: Math.max(1, data.span)}, top: 0, collapsed: new Uint8Array(data.n),
    minimum: 0, selected: -1, hover: -1, hoverSegment: -1, gutter: 330, rows: null, hidden: 0};
  const body = document.body;
  body.appendChild(header(data));
  const toolbar = element("div", "toolbar");
  const buttons = {};
  for (const [name, text, help] of [["out", "\u2212", "zoom out (-)"], ["in", "+", "zoom in (+)"],
    ["fit", "fit", "the whole recording (0)"], ["collapse", "collapse all", "show the root's children only"],
    ["expand", "expand all", "show every process"]]) {
    buttons[name] = element("button", null, text);
    buttons[name].title = help;
    toolbar.appendChild(buttons[name]);
  }
  const filter = element("input");
  filter.type = "text";
  filter.placeholder = "e.g. 10ms";
  filter.setAttribute("aria-label", "minimum duration");
  const filterNote = element("span", "muted", "");
  toolbar.appendChild(element("label", "filter", "hide processes shorter than ", [filter]));
  toolbar.appendChild(filterNote);
  toolbar.appendChild(legend());
  body.appendChild(toolbar);
  const critical = element("canvas", "critical");
  const concurrency = element("canvas", "concurrency");
  const timeline = element("canvas", "timeline");
  for (const [canvas, text] of [[critical, "the critical path: the same stretches are listed in a table below"],
    [concurrency, "the number of running processes over time"],
    [timeline, "the timeline, one row per process: the tables below list them too"]]) {
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", text);
  }
  const thumb = element("div", "thumb");
  const track = element("div", "scrollbar", null, [thumb]);
  body.appendChild(element("div", "plots", null, [critical, concurrency,
    element("div", "timeline-box", null, [timeline, track])]));
  const details = element("div", "details");
  body.appendChild(details);
  const tooltip = element("div", "tooltip");
  tooltip.hidden = true;
  body.appendChild(tooltip);
  const ui = {data, state, critical, concurrency, timeline, thumb, track, details, tooltip, filterNote, frame: 0};
  refreshRows(ui);
  wireControls(ui, buttons, filter);
  wirePointer(ui);
  showDetails(details, data, -1);
  body.appendChild(summaryTables(data, (i) => select(ui, i, true)));
  window.addEventListener("resize", () => redraw(ui));
  redraw(ui);
}

function refreshRows(ui) {
  const shown = visibleRows(ui.data, ui.state.collapsed, ui.state.minimum);
  ui.state.rows = shown.rows;
  ui.filterNote.textContent = shown.hidden ? formatCount(shown.hidden) + " hidden" : "";
  clampTop(ui);
}

function pageRows(ui) {
  return Math.max(1, Math.floor((ui.timeline.clientHeight - AXIS) / ROW));
}

function clampTop(ui) {
  const most = Math.max(0, ui.state.rows.length - pageRows(ui));
  ui.state.top = Math.min(Math.max(0, ui.state.top), most);
}

function redraw(ui) {
  if (ui.frame) return;
  ui.frame = requestAnimationFrame(() => {
    ui.frame = 0;
    ui.scale = drawTimeline(ui.timeline, ui.data, ui.state);
    // the bars above the timeline change with the time range only, not with the rows
    const view = ui.state.view;
    const key = [view.t0, view.t1, ui.critical.clientWidth, ui.state.hoverSegment].join(" ");
    if (key !== ui.drawnView) {
      ui.drawnView = key;
      drawCritical(ui.critical, ui.data, ui.state);
      drawConcurrency(ui.concurrency, ui.data, ui.state);
    }
    const rows = ui.state.rows.length;
    const page = pageRows(ui);
    const height = ui.track.clientHeight;
    const size = rows > page ? Math.max(24, height * page / rows) : height;
    ui.thumb.style.height = size + "px";
    ui.thumb.style.top = (rows > page ? (height - size) * ui.state.top / (rows - page) : 0) + "px";
  });
}

function zoom(ui, factor, at) {
  const view = ui.state.view;
  const centre = at === undefined ? (view.t0 + view.t1) / 2 : at;
  const span = Math.min(Math.max((view.t1 - view.t0) * factor, 1000), Math.max(1, ui.data.span) * 4);
  const left = (centre - view.t0) / (view.t1 - view.t0);
  view.t0 = centre - span * left;
  view.t1 = view.t0 + span;
  redraw(ui);
}

function pan(ui, pixels) {
  const view = ui.state.view;
  const shift = pixels * (view.t1 - view.t0) / Math.max(1, ui.timeline.clientWidth - ui.state.gutter);
  view.t0 += shift;
  view.t1 += shift;
  redraw(ui);
}

function select(ui, i, reveal) {
  const state = ui.state;
  state.selected = i;
  if (reveal && i >= 0) {
    // open its ancestors, then bring its row into view
    let changed = false;
    for (let p = ui.data.parent[i]; p >= 0; p = ui.data.parent[p]) {
      if (state.collapsed[p]) {
        state.collapsed[p] = 0;
        changed = true;
      }
    }
    if (changed) refreshRows(ui);
    const row = state.rows.indexOf(i);
    if (row >= 0 && (row < state.top || row >= state.top + pageRows(ui))) {
      state.top = row - Math.floor(pageRows(ui) / 3);
      clampTop(ui);
    }
    ui.timeline.scrollIntoView({block: "nearest"});
  }
  showDetails(ui.details, ui.data, i);
  redraw(ui);
}
