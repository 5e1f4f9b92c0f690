#!/usr/bin/env python3
"""Summarise ENGINE PENDING / FAIL lines of a `cargo test -p uring --tests` stderr into markdown."""
import re,sys,collections,datetime,subprocess
err=open(sys.argv[1]).read()
pend=collections.OrderedDict(); passes=set(); fails=[]
for l in err.splitlines():
    m=re.match(r'ENGINE PENDING (\S+) \[([^\]]+)\] now PASSES',l)
    if m: passes.add((m.group(1),m.group(2))); continue
    m=re.match(r'ENGINE PENDING (\S+) \[([^\]]+)\] \| (.*?) \| (.*)',l)
    if m:
        t,f,why,msg=m.groups(); pend.setdefault((t,why),[]).append((f,msg.splitlines()[0] if msg else '')); continue
    m=re.match(r'ENGINE FAIL (\S+) \[([^\]]+)\]: (.*)',l)
    if m: fails.append(m.groups())
areas=collections.defaultdict(list)
for (t,why),fl in pend.items():
    area=why.split(':')[0]
    areas[area].append((t,why,fl))
head=subprocess.run(['git','-C','/work/main','log','--oneline','-1'],capture_output=True,text=True).stdout.strip()
print(f"# Engine failures in the uring behaviour tests\n\nRun {datetime.datetime.now():%Y-%m-%d %H:%M}, at `{head}`, by helper E "
      "(`cargo test -p uring --tests`; the list lives in `ENGINE_PENDING`, crates/uring/tests/common/mod.rs).\n")
print(f"Unexpected engine failures (not pending): {len(fails)}")
for t,f,msg in fails: print(f"- **{t} [{f}]**: {msg[:200]}")
print(f"\nPending tests: {len(pend)}\n")
for area in sorted(areas):
    print(f"## {area}\n")
    for t,why,fl in areas[area]:
        fls=sorted(set(f for f,_ in fl)); msg=fl[0][1][:160]
        print(f"- `{t}` ({', '.join(fls) if len(fls)<4 else str(len(fls))+' flavours'}): {why.split(':',1)[1].strip()} — got: {msg}")
    print()
if passes:
    print("## Pending entries that passed on some flavour (remove when all pass)\n")
    for t,f in sorted(passes): print(f"- `{t}` [{f}]")
