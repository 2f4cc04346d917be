// The stylesheet of the operations page and its sign-in form, served as `assets/page.css`. Red marks a breach and
// nothing else; every colour pair reads at 7:1 or better; tables scroll sideways inside their own box, so the
// page itself never does, down to a 390 px phone.

/** The page's CSS. */
export const pageStyle = `
:root{color-scheme:light;--ink:#111827;--muted:#4b5563;--line:#d1d5db;--head:#f3f4f6;--focus:#1d4ed8;--breach:#8b0000;--breach-bg:#fde8e8}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:#fff;margin:0 auto;padding:1rem 1.5rem 3rem;max-width:1280px}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.2rem;margin:2rem 0 .5rem;padding-top:.5rem;border-top:2px solid var(--line)}h3{font-size:1rem;margin:1.2rem 0 .4rem}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem}header form{margin-left:auto}
.meta,.note{color:var(--muted);margin:.2rem 0}.note{font-size:.9rem}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;margin:.6rem 0}
a{color:#1e40af}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border:1px solid var(--line);padding:.3rem .55rem;text-align:right;white-space:nowrap;vertical-align:top}
th{background:var(--head);font-weight:600;text-align:left}
td.text{text-align:left}
td.breach{color:var(--breach);background:var(--breach-bg);font-weight:700}
td.empty{color:var(--muted);text-align:left;font-style:italic}
td.wrap{white-space:normal;min-width:16rem;max-width:36rem;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:.85rem}
button,select,input{font:inherit;color:var(--ink)}
button{background:#fff;border:1px solid #374151;border-radius:4px;padding:.2rem .7rem;min-height:2rem;cursor:pointer}
button:hover{background:var(--head)}
button[disabled]{color:var(--muted);border-color:var(--line);cursor:not-allowed}
input,select{border:1px solid #6b7280;border-radius:4px;padding:.2rem .4rem;min-height:2rem;max-width:100%}
td .controls{display:flex;flex-wrap:wrap;gap:.3rem;align-items:center;justify-content:flex-end}
td input[name=reason]{width:12rem}
fieldset{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;margin:.5rem 0}
form.inline fieldset{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}
label{display:inline-flex;flex-direction:column;gap:.15rem;font-size:.9rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
#status:empty{display:none}#status{padding:.4rem .7rem;border:1px solid var(--line);border-radius:4px;background:var(--head)}
.alert{padding:.5rem .8rem;border:1px solid var(--breach);color:var(--breach);border-radius:4px}
.narrow{max-width:28rem}.narrow label{display:flex;margin:.4rem 0}.narrow input{width:100%}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr));gap:1rem}
.chart{min-width:0;overflow:hidden}.chart h4{margin:.3rem 0;font-size:.95rem}
@media (max-width:640px){
body{padding:.6rem .7rem 2rem;font-size:14px}
header form{margin-left:0}
dl{grid-template-columns:1fr}
form.inline fieldset{flex-direction:column;align-items:stretch}
}
`;
