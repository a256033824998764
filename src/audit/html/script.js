// The audit report's script, inlined into the page by src/report/html.rs.
(function(){
  var table=document.getElementById('findings-table');
  if(table){
    var body=table.tBodies[0];
    var rows=Array.prototype.slice.call(body.rows);
    var f=document.getElementById('filters');
    f.hidden=false;
    var q=document.getElementById('f-text'),sev=document.getElementById('f-severity'),rule=document.getElementById('f-rule'),
        env=document.getElementById('f-environment'),team=document.getElementById('f-team'),supp=document.getElementById('f-suppressed'),
        shown=document.getElementById('findings-shown');
    function apply(){
      var t=q.value.toLowerCase(),n=0;
      rows.forEach(function(r){
        var d=r.dataset;
        var ok=(!t||r.textContent.toLowerCase().indexOf(t)>=0)&&(!sev.value||d.severity===sev.value)&&
          (!rule.value||d.rule===rule.value)&&(!env.value||d.environment===env.value)&&(!team.value||d.team===team.value)&&
          (supp.checked||d.suppressed!=='1');
        r.hidden=!ok; if(ok){n++;}
      });
      shown.textContent=String(n);
    }
    [q,sev,rule,env,team,supp].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
    var ths=table.tHead.rows[0].cells;
    function sortBy(i,asc){
      var th=ths[i];
      Array.prototype.forEach.call(ths,function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var key=function(r){var c=r.cells[i];return c.dataset.sort!==undefined?c.dataset.sort:c.textContent;};
      rows.sort(function(a,b){
        var x=key(a),y=key(b),nx=Number(x),ny=Number(y),c;
        if(x!==''&&y!==''&&!isNaN(nx)&&!isNaN(ny)){c=nx-ny;}else{c=x<y?-1:x>y?1:0;}
        if(c===0){c=Number(a.dataset.index)-Number(b.dataset.index);}
        return asc?c:-c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    }
    Array.prototype.forEach.call(ths,function(th,i){
      var b=th.querySelector('button'); if(!b){return;}
      b.addEventListener('click',function(){sortBy(i,th.getAttribute('aria-sort')!=='ascending');});
    });
    // A view can be linked: ?severity=error&rule=..&environment=..&team=..&q=..&suppressed=0&sort=N&desc=1
    var params=new URLSearchParams(location.search);
    [['q',q],['severity',sev],['rule',rule],['environment',env],['team',team]].forEach(function(p){
      var v=params.get(p[0]); if(v!==null){p[1].value=v;}
    });
    if(params.get('suppressed')==='0'){supp.checked=false;}
    var si=Number(params.get('sort'));
    if(params.get('sort')!==null&&si>=0&&si<ths.length){sortBy(si,params.get('desc')!=='1');}
    apply();
  }
  window.addEventListener('beforeprint',function(){
    Array.prototype.forEach.call(document.querySelectorAll('details'),function(d){d.open=true;});
  });
  document.body.setAttribute('data-script','ok');
})();
