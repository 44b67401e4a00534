// tables.js: the summary's tables, sortable by any column.  A table shows
// its first rows only, and more on request, so the page never holds a row
// per process.  Cells are text nodes.

const TABLE_ROWS = 100;

// an element with text (never markup) and children
function element(tag, className, text, children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  for (const child of children || []) node.appendChild(child);
  return node;
}

// columns: [{name, key: (row) => number or string, text: (row) => string, numeric, descending}]
function makeTable(title, note, columns, rows, onPick, initial) {
  const section = element("section", "summary-table");
  section.appendChild(element("h2", null, title));
  if (note) section.appendChild(element("p", "note", note));
  if (!rows.length) {
    section.appendChild(element("p", "empty", "none"));
    return section;
  }
  const table = element("table");
  const head = element("tr");
  const body = element("tbody");
  const more = element("button", "more", "");
  table.appendChild(element("thead", null, null, [head]));
  table.appendChild(body);
  section.appendChild(table);
  section.appendChild(more);
  const sort = {column: initial ? initial.column : 0, descending: initial ? initial.descending : false,
    shown: TABLE_ROWS, order: null};

  function ordered() {
    if (!sort.order) {
      const column = columns[sort.column];
      const keys = new Map();
      for (const row of rows) keys.set(row, column.key(row));
      const sign = sort.descending ? -1 : 1;
      sort.order = Array.from(rows).sort((a, b) => {
        const x = keys.get(a);
        const y = keys.get(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sign || a - b;
      });
    }
    return sort.order;
  }

  function fill() {
    const order = ordered();
    body.textContent = "";
    const count = Math.min(sort.shown, order.length);
    for (let r = 0; r < count; r++) {
      const row = order[r];
      const line = element("tr", null, null, columns.map((column) => {
        const cell = element("td", column.numeric ? "number" : "text", column.text(row));
        if (!column.numeric) cell.title = cell.textContent;  // the whole text, where the cell cuts it
        return cell;
      }));
      line.addEventListener("click", () => onPick(row));
      body.appendChild(line);
    }
    more.hidden = count >= order.length;
    more.textContent = "show " + Math.min(TABLE_ROWS, order.length - count) + " more (" +
      formatCount(order.length - count) + " not shown)";
    columns.forEach((column, index) => {
      const cell = head.children[index];
      cell.className = (column.numeric ? "number" : "text") + (index === sort.column ? " sorted" : "");
      cell.setAttribute("aria-sort", index === sort.column ? (sort.descending ? "descending" : "ascending") : "none");
      cell.textContent = column.name + (index === sort.column ? (sort.descending ? " \u25be" : " \u25b4") : "");
    });
  }

  columns.forEach((column, index) => {
    const cell = element("th", null, column.name);
    cell.title = "sort by " + column.name;
    cell.addEventListener("click", () => {
      if (sort.column === index) {
        sort.descending = !sort.descending;
      } else {
        sort.column = index;
        sort.descending = Boolean(column.descending);
      }
      sort.order = null;
      sort.shown = TABLE_ROWS;
      fill();
    });
    head.appendChild(cell);
  });
  more.addEventListener("click", () => {
    sort.shown += TABLE_ROWS;
    fill();
  });
  fill();
  return section;
}

function summaryTables(data, onPick) {
  const holder = element("div", "tables");
  const wall = Math.max(1, data.rootEnd - (data.root >= 0 ? data.start[data.root] : 0));
  const pid = {name: "pid", key: (i) => data.pid[i], text: (i) => String(data.pid[i]), numeric: true};
  const command = {name: "command", key: (i) => processLabel(data, i), text: (i) => processLabel(data, i)};
  const duration = {name: "duration", key: (i) => data.end[i] - data.start[i],
    text: (i) => formatDuration(data.end[i] - data.start[i]), numeric: true, descending: true};
  const status = {name: "status", key: (i) => data.status[i] === null ? 1e9 : data.status[i],
    text: (i) => formatStatus(data.status[i], data.unknownStatus.has(i))};

  const segments = Array.from(data.cpProc.keys());
  const pick = (s) => onPick(data.cpProc[s]);
  holder.appendChild(makeTable("Critical path",
    "The chain of work that decided when the command ended: each stretch ran while it waited for nobody.", [
      {name: "start", key: (s) => data.cpStart[s], text: (s) => formatTime(data.cpStart[s], 1e3), numeric: true},
      {name: "duration", key: (s) => data.cpEnd[s] - data.cpStart[s],
        text: (s) => formatDuration(data.cpEnd[s] - data.cpStart[s]), numeric: true, descending: true},
      {name: "share", key: (s) => data.cpEnd[s] - data.cpStart[s],
        text: (s) => (100 * (data.cpEnd[s] - data.cpStart[s]) / wall).toFixed(1) + " %", numeric: true,
        descending: true},
      {name: "pid", key: (s) => data.pid[data.cpProc[s]], text: (s) => String(data.pid[data.cpProc[s]]), numeric: true},
      {name: "command", key: (s) => segmentLabel(data, s), text: (s) => segmentLabel(data, s)},
    ], segments, pick));

  const all = Array.from(data.start.keys());
  holder.appendChild(makeTable("Processes by time",
    "Own time: when none of its children ran.  Weighted time: each moment shared among all that ran then.", [
      pid, command, duration,
      {name: "own time", key: (i) => data.own[i], text: (i) => formatDuration(data.own[i]), numeric: true,
        descending: true},
      {name: "weighted time", key: (i) => data.weighted[i], text: (i) => formatDuration(data.weighted[i]),
        numeric: true, descending: true},
      status,
    ], all, onPick, {column: 4, descending: true}));

  const failed = all.filter((i) => data.failed[i]);
  holder.appendChild(makeTable("Failures", "Processes that exited with a status other than 0 or were killed.",
    [pid, command, status, duration], failed, onPick));

  const outlived = Array.from(data.outlived.keys());
  holder.appendChild(makeTable("Outlived the command", "Still running when the recorded command exited.", [
    pid, command,
    {name: "ran past it by", key: (i) => data.outlived.get(i), text: (i) => formatDuration(data.outlived.get(i)),
      numeric: true, descending: true},
    status,
  ], outlived, onPick, {column: 2, descending: true}));
  return holder;
}
