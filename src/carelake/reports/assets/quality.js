// The quality dashboard's check table: worst first, filtered by category, table and status in the page.
const D = JSON.parse(document.getElementById('dqd-data').textContent);
const RANK = {'error': 0, 'failed': 1, 'passed': 2, 'not applicable': 3};
const rows = D.CheckResults.slice().sort((a, b) => (RANK[a.status] - RANK[b.status]) ||
  ((b.pctViolatedRows || 0) - (a.pctViolatedRows || 0)) || a.checkId.localeCompare(b.checkId));
function opts(id, values) {
  const s = document.getElementById(id);
  [...new Set(values)].sort().forEach(v => {
    const o = document.createElement('option'); o.value = v; o.textContent = v; s.appendChild(o);
  });
  s.addEventListener('change', draw);
}
opts('f-category', rows.map(r => r.category));
opts('f-table', rows.map(r => r.cdmTableName));
opts('f-status', rows.map(r => r.status));
function esc(s) {
  return String(s === null || s === undefined ? '' : s)
    .replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));
}
function fmt(n) {
  return n === null || n === undefined ? '<span class="muted">&lt;' + D.minCellCount + '</span>' : Number(n).toLocaleString();
}
function draw() {
  const c = document.getElementById('f-category').value, t = document.getElementById('f-table').value,
        s = document.getElementById('f-status').value;
  const shown = rows.filter(r => (!c || r.category === c) && (!t || r.cdmTableName === t) && (!s || r.status === s));
  document.getElementById('shown').textContent = shown.length + ' of ' + rows.length + ' checks';
  document.getElementById('results-body').innerHTML = shown.slice(0, 3000).map(r =>
    '<tr class="row" data-status="' + esc(r.status) + '" data-table="' + esc(r.cdmTableName) + '" data-category="' +
    esc(r.category) + '"><td class="' + (r.status === 'not applicable' ? 'na' : esc(r.status)) + '">' + esc(r.status) +
    '</td><td>' + esc(r.category) + (r.subcategory ? ' / ' + esc(r.subcategory) : '') + '</td><td>' +
    esc(r.cdmTableName) + '</td><td>' + esc(r.cdmFieldName) + '</td><td>' + esc(r.checkName) +
    (r.conceptId ? ' (' + esc(r.conceptId) + ')' : '') + '</td><td class="n">' + fmt(r.numViolatedRows) +
    '</td><td class="n">' + (r.pctViolatedRows === null ? '' : (100 * r.pctViolatedRows).toFixed(2) + '%') +
    '</td><td class="n">' + fmt(r.numDenominatorRows) + '</td><td class="n">' + esc(r.thresholdValue) + '</td><td>' +
    esc(r.checkDescription) + (r.error ? '<br><span class="error">' + esc(r.error) + '</span>' : '') +
    (r.notApplicableReason ? '<br><span class="muted">' + esc(r.notApplicableReason) + '</span>' : '') +
    '</td></tr>').join('');
}
draw();
