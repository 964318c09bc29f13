// storyline serve: sortable tables and citation pop-ups. Served as a static file (strict CSP);
// only ever copies server-rendered (escaped) nodes, never builds HTML from strings.
(function () {
  "use strict";

  function cellValue(row, i) {
    var cell = row.cells[i];
    if (!cell) return "";
    return (cell.getAttribute("data-sort") || cell.textContent).trim();
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    var head = table.tHead;
    if (!head) return;
    head.querySelectorAll("th").forEach(function (th, i) {
      th.setAttribute("tabindex", "0");
      th.title = "sort";
      function sort() {
        var body = table.tBodies[0];
        var asc = th.getAttribute("aria-sort") !== "ascending";
        head.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, i), y = cellValue(b, i);
          var nx = parseFloat(x.replace(/,/g, "")), ny = parseFloat(y.replace(/,/g, ""));
          var numeric = !isNaN(nx) && !isNaN(ny) && /^[\d.,\s-]+$/.test(x) && /^[\d.,\s-]+$/.test(y);
          var c = numeric ? nx - ny : x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" });
          if (!x && y) return 1;
          if (x && !y) return -1;
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sort(); } });
    });
  });

  // Citations: hover or focus shows the supporting sentence of the cited article; click pins it.
  var pop = null, pinned = null;
  function popover() {
    if (!pop) {
      pop = document.createElement("div");
      pop.className = "popover";
      pop.id = "cite-popover";
      pop.setAttribute("role", "tooltip");
      pop.hidden = true;
      document.body.appendChild(pop);
    }
    return pop;
  }
  function show(link) {
    var src = document.getElementById(link.getAttribute("data-src"));
    if (!src) return;
    var p = popover();
    while (p.firstChild) p.removeChild(p.firstChild);
    Array.prototype.forEach.call(src.childNodes, function (n) { p.appendChild(n.cloneNode(true)); });
    p.hidden = false;
    var r = link.getBoundingClientRect();
    var left = Math.max(8, Math.min(window.scrollX + r.left - 20, window.scrollX + document.documentElement.clientWidth - 460));
    p.style.left = left + "px";
    p.style.top = (window.scrollY + r.bottom + 8) + "px";
    document.querySelectorAll(".cite.open").forEach(function (c) { c.classList.remove("open"); });
    link.classList.add("open");
  }
  function hide() {
    if (pop) pop.hidden = true;
    document.querySelectorAll(".cite.open").forEach(function (c) { c.classList.remove("open"); });
    pinned = null;
  }
  document.querySelectorAll("a.cite").forEach(function (link) {
    link.addEventListener("mouseenter", function () { if (!pinned) show(link); });
    link.addEventListener("mouseleave", function () { if (!pinned) hide(); });
    link.addEventListener("focus", function () { if (!pinned) show(link); });
    link.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (pinned === link) { hide(); return; }
      show(link);
      pinned = link;
    });
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") hide(); });
  document.addEventListener("click", function (ev) {
    if (pinned && !ev.target.closest(".cite") && !ev.target.closest(".popover")) hide();
  });
})();
