// controls.js: what the mouse, the wheel and the keys do.
//   wheel: scroll the rows; ctrl+wheel: zoom at the pointer; shift+wheel: pan
//   drag: pan (time and rows); click: select; click a triangle: collapse or expand
//   + - 0: zoom in, out, fit; up/down: select the row above or below; left/right: collapse, expand

function wireControls(ui, buttons, filter) {
  buttons.in.addEventListener("click", () => zoom(ui, 0.5));
  buttons.out.addEventListener("click", () => zoom(ui, 2));
  buttons.fit.addEventListener("click", () => fit(ui));
  buttons.collapse.addEventListener("click", () => {
    const {data, state} = ui;
    for (let i = 0; i < data.n; i++) state.collapsed[i] = data.parent[i] >= 0 && data.subtreeEnd[i] > i + 1 ? 1 : 0;
    refreshRows(ui);
    redraw(ui);
  });
  buttons.expand.addEventListener("click", () => {
    ui.state.collapsed.fill(0);
    refreshRows(ui);
    redraw(ui);
  });
  filter.addEventListener("input", () => {
    const value = filter.value.trim() ? parseDuration(filter.value) : 0;
    filter.classList.toggle("invalid", Number.isNaN(value));
    if (Number.isNaN(value)) return;
    ui.state.minimum = value;
    refreshRows(ui);
    redraw(ui);
  });
  document.addEventListener("keydown", (event) => {
    if (event.target && event.target.tagName === "INPUT") return;
    const {data, state} = ui;
    if (event.key === "+" || event.key === "=") zoom(ui, 0.5);
    else if (event.key === "-") zoom(ui, 2);
    else if (event.key === "0") fit(ui);
    else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && state.selected >= 0) {
      const row = state.rows.indexOf(state.selected) + (event.key === "ArrowDown" ? 1 : -1);
      if (row >= 0 && row < state.rows.length) select(ui, state.rows[row], true);
    } else if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && state.selected >= 0) {
      if (data.subtreeEnd[state.selected] > state.selected + 1) {
        state.collapsed[state.selected] = event.key === "ArrowLeft" ? 1 : 0;
        refreshRows(ui);
        redraw(ui);
      }
    } else {
      return;
    }
    event.preventDefault();
  });
}

function fit(ui) {
  ui.state.view.t0 = 0;
  ui.state.view.t1 = Math.max(1, ui.data.span);
  redraw(ui);
}

// lines of the wheel in pixels
function wheelPixels(event, delta) {
  return event.deltaMode === 1 ? delta * ROW : event.deltaMode === 2 ? delta * 400 : delta;
}

function wirePointer(ui) {
  const {timeline, critical, concurrency, tooltip, state, data} = ui;
  for (const canvas of [timeline, critical, concurrency]) {
    canvas.addEventListener("wheel", (event) => {
      const dx = wheelPixels(event, event.deltaX);
      const dy = wheelPixels(event, event.deltaY);
      if (event.ctrlKey || event.metaKey) {
        zoom(ui, Math.exp(dy * 0.002), ui.scale ? ui.scale.t(event.offsetX) : undefined);
      } else if (event.shiftKey || Math.abs(dx) > Math.abs(dy)) {
        pan(ui, event.shiftKey && !dx ? dy : dx);
      } else if (canvas === timeline) {
        state.top += dy / ROW;
        clampTop(ui);
        redraw(ui);
      } else {
        return;  // the page scrolls
      }
      event.preventDefault();
    }, {passive: false});
  }

  let drag = null;
  timeline.addEventListener("mousedown", (event) => {
    drag = {x: event.clientX, y: event.clientY, top: state.top, moved: false};
  });
  window.addEventListener("mousemove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    pan(ui, -(event.clientX - (drag.lastX === undefined ? drag.x : drag.lastX)));
    drag.lastX = event.clientX;
    state.top = drag.top - dy / ROW;
    clampTop(ui);
    redraw(ui);
  });
  window.addEventListener("mouseup", () => {
    setTimeout(() => { drag = null; }, 0);
  });

  timeline.addEventListener("click", (event) => {
    if (drag && drag.moved) return;
    const i = rowAt(ui, event.offsetY);
    if (i < 0) return;
    const indent = Math.min(data.depth[i] * 12, state.gutter / 2);
    if (event.offsetX < state.gutter && event.offsetX >= indent && event.offsetX < indent + 16 &&
        data.subtreeEnd[i] > i + 1) {
      state.collapsed[i] = state.collapsed[i] ? 0 : 1;
      refreshRows(ui);
      redraw(ui);
      return;
    }
    select(ui, i, false);
  });
  timeline.addEventListener("mousemove", (event) => {
    const i = drag && drag.moved ? -1 : rowAt(ui, event.offsetY);
    if (i !== state.hover) {
      state.hover = i;
      redraw(ui);
    }
    showTooltip(ui, event, i >= 0 ? tooltipLines(data, i) : "");
  });
  timeline.addEventListener("mouseleave", () => {
    state.hover = -1;
    tooltip.hidden = true;
    redraw(ui);
  });
  critical.addEventListener("mousemove", (event) => {
    const s = segmentAt(ui, event.offsetX);
    if (s !== state.hoverSegment) {
      state.hoverSegment = s;
      redraw(ui);
    }
    showTooltip(ui, event, s >= 0 ? "critical path: " + segmentLabel(data, s) + "\npid " + data.pid[data.cpProc[s]] +
      "  " + formatTime(data.cpStart[s], 1e3) + " \u2192 " + formatTime(data.cpEnd[s], 1e3) + "  (" +
      formatDuration(data.cpEnd[s] - data.cpStart[s]) + ")" : "");
  });
  critical.addEventListener("mouseleave", () => {
    state.hoverSegment = -1;
    tooltip.hidden = true;
    redraw(ui);
  });
  critical.addEventListener("click", (event) => {
    const s = segmentAt(ui, event.offsetX);
    if (s >= 0) select(ui, data.cpProc[s], true);
  });
  wireScrollbar(ui);
}

function rowAt(ui, y) {
  if (y < AXIS) return -1;
  const row = Math.floor(ui.state.top + (y - AXIS) / ROW);
  return row >= 0 && row < ui.state.rows.length ? ui.state.rows[row] : -1;
}

function segmentAt(ui, x) {
  if (!ui.scale || x < ui.state.gutter || !ui.data.cpProc.length) return -1;
  const t = ui.scale.t(x);
  const s = upperBound(ui.data.cpStart, t) - 1;
  return s >= 0 && t <= ui.data.cpEnd[s] ? s : -1;
}

function showTooltip(ui, event, text) {
  const tooltip = ui.tooltip;
  if (!text) {
    tooltip.hidden = true;
    return;
  }
  tooltip.textContent = text;
  tooltip.hidden = false;
  const x = Math.min(event.clientX + 14, window.innerWidth - tooltip.offsetWidth - 8);
  const y = event.clientY + 16 + tooltip.offsetHeight > window.innerHeight ?
    event.clientY - tooltip.offsetHeight - 8 : event.clientY + 16;
  tooltip.style.left = Math.max(4, x) + "px";
  tooltip.style.top = Math.max(4, y) + "px";
}

function wireScrollbar(ui) {
  const {thumb, track, state} = ui;
  let grab = null;
  thumb.addEventListener("mousedown", (event) => {
    grab = {y: event.clientY, top: state.top};
    event.preventDefault();
    event.stopPropagation();
  });
  window.addEventListener("mousemove", (event) => {
    if (!grab) return;
    const page = pageRows(ui);
    const free = Math.max(1, track.clientHeight - thumb.offsetHeight);
    state.top = grab.top + (event.clientY - grab.y) * Math.max(0, state.rows.length - page) / free;
    clampTop(ui);
    redraw(ui);
  });
  window.addEventListener("mouseup", () => { grab = null; });
  track.addEventListener("mousedown", (event) => {
    if (event.target !== track) return;
    const page = pageRows(ui);
    state.top += (event.offsetY < thumb.offsetTop ? -1 : 1) * page;
    clampTop(ui);
    redraw(ui);
  });
}
