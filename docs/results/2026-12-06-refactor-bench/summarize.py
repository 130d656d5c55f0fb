import json,collections,statistics,sys,os
here=os.path.dirname(os.path.abspath(__file__))
res=collections.defaultdict(lambda: collections.defaultdict(list))
sides=['main','mid','arch']
for kind in ['agg','dec']:
    for side in sides:
        for r in [1,2]:
            try: data=json.load(open(f'{here}/{kind}-{side}-{r}.json'))
            except Exception: continue
            for b in data['benchmarks']:
                if b.get('run_type')=='iteration':
                    t=b['real_time']; u=b['time_unit']
                    t = t*{'ns':1e-3,'us':1,'ms':1e3,'s':1e6}[u]
                    res[b['run_name']][side].append(t)
for name,d in res.items():
    row=f"{name:34s}"
    base=min(d['main']) if d['main'] else None
    for side in sides:
        if d[side]:
            m=min(d[side]); md=statistics.median(d[side])
            row+=f" | {side} min {m:10.1f} med {md:10.1f} us"
            if base: row+=f" x{m/base:.2f}"
    print(row)
