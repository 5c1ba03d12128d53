const D = JSON.parse(document.getElementById('dqd-data').textContent);
const A = JSON.parse(document.getElementById('achilles-data').textContent);
const RANK = {'error':0,'failed':1,'not applicable':3,'passed':2};
const rows = D.CheckResults.slice().sort((a,b)=> (RANK[a.status]-RANK[b.status]) ||
  ((b.pctViolatedRows||0)-(a.pctViolatedRows||0)) || a.checkId.localeCompare(b.checkId));
function opts(id, values){const s=document.getElementById(id);
  [...new Set(values)].sort().forEach(v=>{const o=document.createElement('option');o.value=v;o.textContent=v;s.appendChild(o);});
  s.addEventListener('change', draw);}
opts('f-category', rows.map(r=>r.category)); opts('f-table', rows.map(r=>r.cdmTableName));
opts('f-status', rows.map(r=>r.status));
function esc(s){return String(s===null||s===undefined?'':s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
function fmt(n){return n===null||n===undefined?'<span class="muted">&lt;'+D.minCellCount+'</span>':Number(n).toLocaleString();}
function draw(){
  const c=document.getElementById('f-category').value, t=document.getElementById('f-table').value,
        s=document.getElementById('f-status').value;
  const shown = rows.filter(r=>(!c||r.category===c)&&(!t||r.cdmTableName===t)&&(!s||r.status===s));
  document.getElementById('shown').textContent = shown.length + ' of ' + rows.length + ' checks';
  const body = document.getElementById('results-body');
  body.innerHTML = shown.slice(0, 3000).map(r=>'<tr class="row" data-status="'+esc(r.status)+'" data-table="'+
    esc(r.cdmTableName)+'" data-category="'+esc(r.category)+'"><td class="'+(r.status==='not applicable'?'na':
    esc(r.status))+'">'+esc(r.status)+'</td><td>'+esc(r.category)+(r.subcategory?' / '+esc(r.subcategory):'')+
    '</td><td>'+esc(r.cdmTableName)+'</td><td>'+esc(r.cdmFieldName)+'</td><td>'+esc(r.checkName)+
    (r.conceptId?' ('+esc(r.conceptId)+')':'')+'</td><td>'+fmt(r.numViolatedRows)+'</td><td>'+
    (r.pctViolatedRows===null?'':(100*r.pctViolatedRows).toFixed(2)+'%')+'</td><td>'+fmt(r.numDenominatorRows)+
    '</td><td>'+esc(r.thresholdValue)+'</td><td>'+esc(r.checkDescription)+(r.error?'<br><span class="error">'+
    esc(r.error)+'</span>':'')+(r.notApplicableReason?'<br><span class="muted">'+esc(r.notApplicableReason)+
    '</span>':'')+'</td></tr>').join('');
}
function bars(id, title, data, color){
  const el=document.getElementById(id); if(!data.length){el.innerHTML='<h3>'+esc(title)+'</h3><p class="muted">no data above the minimum cell count</p>';return;}
  const max=Math.max(...data.map(d=>d[1])), h=18, w=460, lw=170;
  let svg='<svg width="'+w+'" height="'+(data.length*h+4)+'" role="img" aria-label="'+esc(title)+'">';
  data.forEach((d,i)=>{const bw=Math.max(1,(w-lw-60)*d[1]/max);
    svg+='<text x="0" y="'+(i*h+13)+'">'+esc(String(d[0]).slice(0,28))+'</text><rect x="'+lw+'" y="'+(i*h+3)+
    '" width="'+bw+'" height="'+(h-5)+'" fill="'+color+'"><title>'+esc(d[0])+': '+d[1]+'</title></rect><text x="'+
    (lw+bw+4)+'" y="'+(i*h+13)+'">'+Number(d[1]).toLocaleString()+'</text>';});
  el.innerHTML='<h3>'+esc(title)+'</h3>'+svg+'</svg>';
}
function line(id, title, data){
  const el=document.getElementById(id); if(data.length<2){bars(id,title,data,'#4a7bd0');return;}
  const w=460,h=160,max=Math.max(...data.map(d=>d[1]));
  const pts=data.map((d,i)=>(10+i*(w-20)/(data.length-1)).toFixed(1)+','+(h-15-(h-30)*d[1]/max).toFixed(1)).join(' ');
  el.innerHTML='<h3>'+esc(title)+'</h3><svg width="'+w+'" height="'+h+'" role="img" aria-label="'+esc(title)+
    '"><polyline fill="none" stroke="#4a7bd0" stroke-width="1.5" points="'+pts+'"/><text x="10" y="'+(h-2)+'">'+
    esc(data[0][0])+'</text><text x="'+(w-60)+'" y="'+(h-2)+'">'+esc(data[data.length-1][0])+'</text><text x="10" y="12">max '+
    max+'</text></svg>';
}
const byCat={};rows.forEach(r=>{const k=r.category;byCat[k]=byCat[k]||{};byCat[k][r.status]=(byCat[k][r.status]||0)+1;});
bars('plot-status','Failed checks by category',Object.keys(byCat).map(k=>[k,byCat[k]['failed']||0]),'#b00020');
const byTable={};rows.filter(r=>r.status==='failed').forEach(r=>{byTable[r.cdmTableName]=(byTable[r.cdmTableName]||0)+1;});
bars('plot-tables','Failed checks by table',Object.entries(byTable).sort((a,b)=>b[1]-a[1]).slice(0,15),'#d9822b');
function an(id){return A.results.filter(r=>r.analysis_id===id);}
bars('plot-gender','Persons by gender',an(2).map(r=>[r.concept_name||r.stratum_1,r.count_value]),'#4a7bd0');
bars('plot-race','Persons by race',an(4).map(r=>[r.concept_name||r.stratum_1,r.count_value]),'#4a7bd0');
bars('plot-yob','Persons by year of birth',an(3).sort((a,b)=>a.stratum_1-b.stratum_1).map(r=>[r.stratum_1,r.count_value]),'#4a7bd0');
bars('plot-oplen','Persons by observation length (30-day bins)',an(108).sort((a,b)=>a.stratum_1-b.stratum_1).map(r=>[r.stratum_1*30+' d',r.count_value]),'#4a7bd0');
line('plot-trend','Condition records by month',an(420).sort((a,b)=>a.stratum_1-b.stratum_1).map(r=>[r.stratum_1,r.count_value]));
bars('plot-top','Top conditions (records)',an(401).slice(0,10).map(r=>[r.concept_name||r.stratum_1,r.count_value]),'#4a7bd0');
const dist=document.getElementById('dist-body');
dist.innerHTML=A.distributions.map(d=>'<tr><td>'+esc(A.analyses[d.analysis_id]||d.analysis_id)+'</td><td>'+d.count_value+
  '</td><td>'+d.min_value+'</td><td>'+Number(d.median_value).toFixed(1)+'</td><td>'+Number(d.p90_value).toFixed(1)+'</td><td>'+d.max_value+'</td></tr>').join('');
draw();
