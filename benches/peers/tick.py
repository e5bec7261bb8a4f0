#!/usr/bin/env python3
"""A vectorised numpy peer of pricegrad's tick, for Cobb-Douglas economies.

Same scenario file, same rules, same numbers as `pricegrad::engine::Engine` with the default
settings: gradient rule, relative form, multiplicative market, no noise, activation 1.
Supported: Cobb-Douglas firms (any number of inputs, `count` replicas, `productivity`,
per-firm `rate`, joint `outputs`), endowments, fixed prices, initial prices, free goods.
Anything else (other families or rules, noise, productivity_spread, shocks) is refused.

    python3 tick.py FILE --ticks N                  # run N ticks, print a summary
    python3 tick.py FILE --bench N                  # time N ticks (after one warm-up)
    python3 tick.py FILE --check STATE.json         # compare with the Rust engine's state

STATE.json comes from `cargo run --release --example tick_bench -- FILE --ticks N --dump
STATE.json`: prices, supply, demand per good, plans per input edge and outputs per firm after
N ticks; --check runs as many ticks and fails (exit 1) when any number differs by more than
--rtol (relative).

The tick (engine.rs, agents.rs, market.rs), for firm f with inputs i, plans x_i, exponents a_i:
    revenue  r = productivity * sum_k w_k p_out(k)
    F        = scale * prod x_i^a_i,   dF/dx_i = a_i F / x_i
    rel_i    = clip((r dF/dx_i - p_i) / p_i, -1, 1)      (1 if p_i <= 0)
    x_i     <- x_i exp(rate rel_i),    y = productivity F(x')
then per traded good: S = endowment + sum w y, D = sum of plans,
    p <- p exp(step (D - S) / max(S, D))   (p unchanged when S = D = 0; a price in excess
                                            supply that falls below 1e-300 rests there)
Fixed prices never move; an endogenous good nobody uses is free (price 0).

Layout: every firm gets K = max inputs slots (unused slots are inert: a = 0, rate 0, plan 1,
demand sent to a scratch good), stored slot-major, shape (K, firms), so per-firm values
broadcast over rows and per-firm sums are K row additions, with no Python loops over firms
or edges. F is carried from tick to tick in log space: ln F(x') = ln F(x) + sum_i a_i rate
rel_i exactly (x' = x exp(rate rel)), so a tick needs one exp per edge and no log or power;
--recompute evaluates F(x') from the plans instead (one log per edge more).
"""

import argparse
import json
import re
import sys
import time

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

PRICE_FLOOR = 1e-300


class Unsupported(Exception):
    pass


# --- reading the scenario ------------------------------------------------------------------

_FIRM = re.compile(
    r'\[\[firms\]\]\nname = "([^"\n]*)"\noutput = "([^"\n]*)"\n'
    r"production = \{ cobb_douglas = \{ scale = ([^,\s}]+), exponents = \{ ([^{}\n]*) \} \} \}\n"
)
_GOOD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) = \{([^{}\n]*)\}[ \t]*$", re.M)


def _inline(body):
    """'k = v, k = v' (numbers only) -> dict."""
    out = {}
    for part in body.split(","):
        part = part.strip()
        if part:
            k, v = part.split("=")
            out[k.strip()] = float(v)
    return out


def _fast_parse(text):
    """The layout `pricegrad generate` writes, parsed with regular expressions (tomllib takes
    minutes on a million firms). Returns None unless every firm and good line has that exact
    shape; the rest of the file (settings) goes through tomllib."""
    firms = _FIRM.findall(text)
    if len(firms) != text.count("[[firms]]"):
        return None
    start = text.find("\n[goods]\n")
    if start < 0 or text.count("[goods") != 1:
        return None
    start += len("\n[goods]\n")
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end + 1
    region = text[start:end]
    lines = [ln for ln in region.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
    goods = _GOOD.findall(region)
    if len(goods) != len(lines):
        return None
    rest = _FIRM.sub("", text[:start] + text[end:])
    settings = tomllib.loads(rest)
    if settings.get("goods") or "firms" in settings:
        return None
    specs = []
    for name, output, scale, exps in firms:
        table = {}
        for pair in exps.split(","):
            g, v = pair.split("=")
            table[g.strip()] = float(v)
        specs.append({"name": name, "output": output, "production": {"cobb_douglas": {"scale": float(scale), "exponents": table}}})
    settings["goods"] = {name: _inline(body) for name, body in goods}
    settings["firms"] = specs
    return settings


def read_scenario(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    text = raw.decode("utf-8")
    if tomllib is None:
        raise Unsupported("needs Python 3.11+ (tomllib)")
    doc = _fast_parse(text) if text.startswith("# Written by: pricegrad generate") else None
    return doc if doc is not None else tomllib.loads(text)


class Economy:
    """A Cobb-Douglas economy as padded slot-major (ELLPACK) arrays: slot (j, f) is firm f's
    j-th input; `edge_pos` maps the engine's CSR edge order (firm by firm) onto the slots."""

    def __init__(self, doc):
        for key in ("shocks",):
            if doc.get(key):
                raise Unsupported(f"[{key}] is not supported by the peer")
        market = doc.get("market", {})
        agents = doc.get("agents", {})
        if market.get("rule", "multiplicative") != "multiplicative":
            raise Unsupported("only market.rule = multiplicative")
        self.step = float(market.get("step", 0.5))
        initial = float(market.get("initial_price", 1.0))
        defaults = {"rule": "gradient", "rate": 0.5, "form": "relative", "noise": 0.0, "activation": 1.0}
        defaults.update({k: agents[k] for k in defaults if k in agents})

        names = list(doc["goods"])
        index = {n: i for i, n in enumerate(names)}
        G = len(names)
        fixed = np.zeros(G, dtype=bool)
        price = np.empty(G)
        endow = np.zeros(G)
        for i, n in enumerate(names):
            spec = doc["goods"][n]
            if "price" in spec:
                fixed[i] = True
                price[i] = float(spec["price"])
            else:
                price[i] = float(spec.get("initial_price", initial))
                endow[i] = float(spec.get("endowment", 0.0))

        # firms, replicas expanded (in file order, like the engine)
        in_good, in_exp, in_firm = [], [], []
        out_good, out_w, out_firm = [], [], []
        scale, prod, rate = [], [], []
        f = 0
        for spec in doc["firms"]:
            settings = dict(defaults)
            settings.update({k: spec[k] for k in defaults if k in spec})
            if settings["rule"] != "gradient" or settings["form"] != "relative":
                raise Unsupported(f"firm {spec['name']}: only rule = gradient, form = relative")
            if float(settings["noise"]) != 0.0 or float(settings["activation"]) != 1.0:
                raise Unsupported(f"firm {spec['name']}: only noise = 0, activation = 1")
            if float(spec.get("productivity_spread", 0.0)) != 0.0:
                raise Unsupported(f"firm {spec['name']}: productivity_spread is not supported")
            production = spec["production"]
            if not isinstance(production, dict) or list(production) != ["cobb_douglas"]:
                raise Unsupported(f"firm {spec['name']}: only cobb_douglas production")
            cd = production["cobb_douglas"]
            exps = [(index[g], float(a)) for g, a in cd["exponents"].items()]
            if "output" in spec:
                outs = [(index[spec["output"]], 1.0)]
            else:
                outs = [(index[g], float(w)) for g, w in spec["outputs"].items()]
            for _ in range(int(spec.get("count", 1))):
                for g, a in exps:
                    in_good.append(g)
                    in_exp.append(a)
                    in_firm.append(f)
                for g, w in outs:
                    out_good.append(g)
                    out_w.append(w)
                    out_firm.append(f)
                scale.append(float(cd.get("scale", 1.0)))
                prod.append(float(spec.get("productivity", 1.0)))
                rate.append(float(settings["rate"]))
                f += 1
        N = f
        in_good = np.asarray(in_good, dtype=np.intp)
        in_firm = np.asarray(in_firm, dtype=np.intp)
        in_exp = np.asarray(in_exp)
        self.names, self.index, self.fixed = names, index, fixed
        self.n_goods, self.n_firms, self.n_edges = G, N, len(in_good)

        # slot-major layout: edge e of firm f (its j-th input) goes to slot (j, f)
        starts = np.searchsorted(in_firm, np.arange(N + 1))
        degree = np.diff(starts)
        K = int(degree.max())
        slot = np.arange(len(in_good)) - starts[in_firm]
        self.K = K
        self.edge_pos = slot * N + in_firm  # flat position of each (firm-major) edge
        self.real = np.zeros((K, N), dtype=bool)
        self.real.ravel()[self.edge_pos] = True
        self.padded = not self.real.all()
        self.a = np.zeros((K, N))
        self.a.ravel()[self.edge_pos] = in_exp
        scratch = G  # unused slots buy a scratch good G, priced 1
        self.in_good = np.full((K, N), scratch, dtype=np.intp)
        self.in_good.ravel()[self.edge_pos] = in_good
        self.in_good_flat = self.in_good.ravel()

        rate = np.asarray(rate)
        self.rate = float(rate[0]) if (rate == rate[0]).all() and not self.padded else None
        if self.rate is None:
            self.rate_slots = np.where(self.real, rate[None, :], 0.0)
        self.ln_scale = np.log(np.asarray(scale))
        prod = np.asarray(prod)
        self.prod = None if (prod == 1.0).all() else prod

        out_good = np.asarray(out_good, dtype=np.intp)
        out_firm = np.asarray(out_firm, dtype=np.intp)
        out_w = np.asarray(out_w)
        self.single_output = len(out_good) == N and (out_firm == np.arange(N)).all()
        self.out_good, self.out_firm = out_good, out_firm
        self.out_w = None if (out_w == 1.0).all() else out_w
        producers = np.bincount(out_good, minlength=G)
        self.unique_producers = self.single_output and producers.max(initial=0) <= 1
        # firm f makes good g0 + f (generated files): supply is a slice operation
        g0 = int(out_good[0]) if N else 0
        contiguous = self.single_output and N and (out_good == np.arange(g0, g0 + N)).all()
        self.out_range = (g0, g0 + N) if contiguous else None
        self.endow = endow
        uses = np.bincount(in_good, minlength=G)
        self.uses = uses
        self.traded = ~fixed & (uses > 0)
        t = np.flatnonzero(self.traded)
        # traded goods as a slice when contiguous (generated files: layers 0..L-1)
        self.T = slice(t[0], t[-1] + 1) if len(t) and t[-1] - t[0] + 1 == len(t) else t
        self.price0 = np.where(~fixed & ~self.traded, 0.0, price)

    def initial_plans(self):
        """Engine::new: walking producers before users, each endogenous good's available
        supply is split equally between its users (plan 1 where there is none). The walk is a
        fixed point of one vectorised pass, reached after (depth + 1) passes."""
        K, N, G = self.K, self.n_firms, self.n_goods
        fixed_or_scratch = np.append(self.fixed, True)
        users = np.append(self.uses, 1).astype(float)
        x = np.ones((K, N))
        with np.errstate(divide="ignore", invalid="ignore"):
            while True:  # at most depth + 1 passes
                lnF = self.ln_scale + np.einsum("ij,ij->j", self.a, np.log(x))
                y = np.exp(lnF) if self.prod is None else self.prod * np.exp(lnF)
                w = y[self.out_firm] if self.out_w is None else self.out_w * y[self.out_firm]
                available = np.append(self.endow + np.bincount(self.out_good, weights=w, minlength=G), 0.0)
                ok = ~fixed_or_scratch & (available > 0) & np.isfinite(available)
                share = np.where(ok, available / users, 1.0)
                nx = share[self.in_good]
                if np.array_equal(nx, x):
                    break
                x = nx
        return x, lnF


class Peer:
    """The state (plans, F, prices) and the tick, with every buffer allocated once."""

    def __init__(self, eco, recompute=False, chunk=16384):
        self.e = eco
        self.recompute = recompute
        K, N, G = eco.K, eco.n_firms, eco.n_goods
        self.x, lnF = eco.initial_plans()
        self.F = np.exp(lnF)  # F without productivity
        self.p = np.append(eco.price0, 1.0)  # + the scratch good
        # the per-edge work runs over blocks of `chunk` firms, so that its ~10 passes stay
        # in cache; per-good work (gathers aside) runs over whole arrays
        self.chunk = C = max(1, min(chunk, N))
        self.blocks = [(c, min(c + C, N)) for c in range(0, N, C)]
        self.q = np.empty((K, C))
        self.pe = np.empty((K, C))
        self.rF = np.empty(N)
        self.inc = np.empty(N)
        self.y = np.empty(N)
        self.supply = np.zeros(G + 1)
        self.demand = np.zeros(G + 1)
        n_t = len(range(G)[eco.T]) if isinstance(eco.T, slice) else len(eco.T)
        self.z = np.empty(n_t)
        self.scale = np.empty(n_t)
        self.tick = 0

    def firm_block(self, c0, c1):
        """The firm phase of firms c0..c1: plans, F (rF holds revenue * productivity * F)."""
        e, p = self.e, self.p
        n = c1 - c0
        q, pe = self.q[:, :n], self.pe[:, :n]
        a, x, inc, F = e.a[:, c0:c1], self.x[:, c0:c1], self.inc[c0:c1], self.F[c0:c1]
        np.take(p, e.in_good[:, c0:c1], out=pe, mode="clip")
        np.multiply(a, self.rF[c0:c1], out=q)  # r dF/dx_i * x_i
        q /= x
        q /= pe
        q -= 1.0  # (r dF/dx_i - p_i) / p_i
        np.clip(q, -1.0, 1.0, out=q)
        if not self.positive_prices:
            q[~(pe > 0)] = 1.0  # the engine's rule for a price that is not positive (or NaN)
        if e.rate is not None:
            q *= e.rate
        else:
            q *= e.rate_slots[:, c0:c1]
        if self.recompute:
            np.exp(q, out=q)
            x *= q
            np.log(x, out=q)
            np.einsum("ij,ij->j", a, q, out=inc)
            inc += e.ln_scale[c0:c1]
            np.exp(inc, out=F)
        else:
            # ln F(x') - ln F(x) = sum_i a_i rate rel_i
            np.einsum("ij,ij->j", a, q, out=inc)
            np.exp(inc, out=inc)
            F *= inc
            np.exp(q, out=q)
            x *= q

    def step(self):
        e, p, rF = self.e, self.p, self.rF
        # firm phase: revenue per unit of F, the relative profit gradient, the step
        if e.single_output:
            np.take(p, e.out_good, out=rF, mode="clip")
            if e.out_w is not None:
                rF *= e.out_w
        else:
            w = p[e.out_good] if e.out_w is None else e.out_w * p[e.out_good]
            rF[:] = np.bincount(e.out_firm, weights=w, minlength=e.n_firms)
        if e.prod is not None:
            rF *= e.prod
        rF *= self.F
        for c0, c1 in self.blocks:
            self.firm_block(c0, c1)
        y = self.F if e.prod is None else np.multiply(self.F, e.prod, out=self.y)
        # market phase: supply and demand per good, multiplicative price step
        s, d = self.supply, self.demand
        if e.out_range is not None:  # firm f alone makes good g0 + f
            g0, g1 = e.out_range
            s[:g0] = e.endow[:g0]
            s[g1:-1] = e.endow[g1:]
            if e.out_w is None:
                np.add(e.endow[g0:g1], y, out=s[g0:g1])
            else:
                np.multiply(e.out_w, y, out=s[g0:g1])
                s[g0:g1] += e.endow[g0:g1]
        elif e.unique_producers:
            s[:-1] = e.endow
            s[e.out_good] += y if e.out_w is None else e.out_w * y
        else:
            w = y[e.out_firm] if e.out_w is None else e.out_w * y[e.out_firm]
            s[:-1] = e.endow + np.bincount(e.out_good, weights=w, minlength=e.n_goods)
        d[:] = np.bincount(e.in_good_flat, weights=self.x.ravel(), minlength=e.n_goods + 1)
        T = e.T
        sT, dT, z, scale = s[T], d[T], self.z, self.scale
        np.subtract(dT, sT, out=z)
        np.maximum(sT, dT, out=scale)
        z *= e.step
        z /= scale
        if not (scale > 0).all():
            z[~(scale > 0)] = 0.0
        np.exp(z, out=z)
        if isinstance(T, slice):
            pT = p[T]
            pT *= z
        else:
            pT = p[T] * z
        low = pT < PRICE_FLOOR
        if low.any():
            pT[low & (dT <= sT)] = PRICE_FLOOR
        if not isinstance(T, slice):
            p[T] = pT
        self.positive_prices = bool((pT > 0).all())
        self.tick += 1

    positive_prices = True

    def run(self, n):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(n):
                self.step()

    def plans_firm_major(self):
        """Plans in the engine's edge order (firm by firm, inputs in file order)."""
        return self.x.ravel()[self.e.edge_pos]

    def output(self):
        return self.F if self.e.prod is None else self.F * self.e.prod


def rel_err(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(scale > 0, np.abs(a - b) / scale, 0.0)
    r[np.isnan(a) != np.isnan(b)] = np.inf
    r[np.isnan(a) & np.isnan(b)] = 0.0
    return r


def check(peer, state, rtol):
    e = peer.e
    goods = state["goods"]
    if len(goods) != e.n_goods or len(state["x"]) != e.n_edges:
        print(f"FAIL: shape: Rust has {len(goods)} goods, {len(state['x'])} edges; peer {e.n_goods}, {e.n_edges}")
        return False
    order = np.array([e.index[g] for g in goods])
    nan = lambda v: np.array([np.nan if t is None else t for t in v], dtype=float)  # noqa: E731
    ok = True
    results = [
        ("prices", peer.p[order], nan(state["prices"])),
        ("supply", peer.supply[order], nan(state["supply"])),
        ("demand", peer.demand[order], nan(state["demand"])),
        ("plans", peer.plans_firm_major(), nan(state["x"])),
        ("outputs", peer.output(), nan(state["y"])),
    ]
    for name, mine, theirs in results:
        r = rel_err(mine, theirs)
        worst = int(np.argmax(r)) if len(r) else 0
        m = float(r[worst]) if len(r) else 0.0
        good = m <= rtol
        ok &= good
        where = f" (at {worst}: numpy {float(mine[worst])!r}, rust {float(theirs[worst])!r})" if len(r) else ""
        print(f"{name:8s} {len(r):9d} values  max relative difference {m:.3e}{'' if good else where}  {'ok' if good else 'FAIL'}")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--ticks", type=int, help="run N ticks and print a summary")
    ap.add_argument("--bench", type=int, metavar="N", help="time N ticks after one warm-up tick")
    ap.add_argument("--check", metavar="STATE.json", help="compare with the Rust engine's state after its ticks")
    ap.add_argument("--rtol", type=float, default=1e-12)
    ap.add_argument("--chunk", type=int, default=16384, help="firms per block of the per-edge work (default 16384)")
    ap.add_argument("--recompute", action="store_true", help="evaluate F from the plans every tick (one log per edge more)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        eco = Economy(read_scenario(args.file))
    except Unsupported as err:
        print(f"unsupported scenario: {err}", file=sys.stderr)
        return 2
    peer = Peer(eco, recompute=args.recompute, chunk=args.chunk)
    print(
        f"loaded {args.file} ({eco.n_firms} firms, {eco.n_edges} edges, {eco.K} slots per firm"
        f"{', padded' if eco.padded else ''}) in {time.perf_counter() - t0:.2f} s",
        file=sys.stderr,
    )
    if args.check:
        with open(args.check) as fh:
            state = json.load(fh)
        peer.run(int(state["ticks"]))
        ok = check(peer, state, args.rtol)
        print(f"numpy vs rust after {state['ticks']} ticks, rtol {args.rtol:g}: {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    if args.bench:
        peer.run(1)
        t, c = time.perf_counter(), time.process_time()
        peer.run(args.bench)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        print(json.dumps({
            "impl": "numpy" + ("-recompute" if args.recompute else ""),
            "threads": 1,
            "ticks": args.bench,
            "firms": eco.n_firms,
            "edges": eco.n_edges,
            "seconds": seconds,
            "cpu_seconds": cpu,
            "edge_updates_per_s": eco.n_edges * args.bench / seconds,
        }))
        return 0
    peer.run(args.ticks or 10)
    T = eco.T
    print(f"after {peer.tick} ticks: max relative excess {np.max(np.abs(peer.demand[T] - peer.supply[T]) / np.maximum(peer.supply[T], peer.demand[T])):.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
