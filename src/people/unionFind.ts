/** Disjoint sets over string ids, with path halving and union by size. */
export class UnionFind {
  private readonly parent = new Map<string, string>();
  private readonly size = new Map<string, number>();

  add(x: string): void {
    if (!this.parent.has(x)) {
      this.parent.set(x, x);
      this.size.set(x, 1);
    }
  }

  find(x: string): string {
    this.add(x);
    let p = this.parent.get(x) as string;
    while (p !== x) {
      const gp = this.parent.get(p) as string;
      this.parent.set(x, gp);
      x = gp;
      p = this.parent.get(x) as string;
    }
    return x;
  }

  union(a: string, b: string): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if ((this.size.get(ra) as number) < (this.size.get(rb) as number)) [ra, rb] = [rb, ra];
    this.parent.set(rb, ra);
    this.size.set(ra, (this.size.get(ra) as number) + (this.size.get(rb) as number));
  }

  /** Every set, as lists of its members in insertion order. */
  groups(): string[][] {
    const byRoot = new Map<string, string[]>();
    for (const x of this.parent.keys()) {
      const r = this.find(x);
      let g = byRoot.get(r);
      if (!g) byRoot.set(r, (g = []));
      g.push(x);
    }
    return [...byRoot.values()];
  }
}
