"""Robustness in the L2 norm of the normalised input space the classifiers see: how far a
test point can move before its predicted class changes.

Two sides of that distance, for a correctly classified point x with label t:

- **certificates**, lower bounds that hold whatever an attacker does. Every bound of the
  study's chain (‖W‖_Mix, √h‖W‖₂, √h‖W‖_F) is a global Lipschitz constant L of f, so
  |f(x + δ) − f(x)| ≤ L‖δ‖ and sign(f) cannot change within ``|f(x)|/L``
  (:func:`global_radius`). :func:`local_radius` is tighter and as sound: it bounds the
  gradient only inside the ball around x, where most units cannot change state. The RBF
  SVC has one global certificate too, from the Lipschitz constant of its kernel expansion
  (:attr:`RBFMachine.lipschitz`).
- **an attack**, an upper bound: a point that really is misclassified, at the distance
  :func:`attack` reports. It works on any classifier with a gradient: the networks
  (:class:`Networks`, exact piecewise-constant gradient) and the RBF SVC
  (:class:`RBFMachine`, analytic gradient of its decision function); on the networks it
  ends with an exact search inside their activation regions (:func:`region_search`).

The true distance to the decision boundary lies between the two; a certificate above an
attack's distance is a bug, which :func:`violations` finds.

A misclassified point has radius and distance 0; f(x) = 0 counts as misclassified, as in
the study's accuracy. A point is *robust at ε* when its radius (or distance) exceeds ε,
so at ε = 0 every curve starts at the clean accuracy.

Everything is float64: a certificate compares radii with distances to the last bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Bisection steps along a segment: they fix a crossing to 2^-12 of the segment's length.
BISECTION_STEPS = 12
# A projection onto the linearised boundary aims this fraction of |f| past it, so that the
# projected point is misclassified where f is linear there (not left at f = 0 by rounding).
OVERSHOOT = 1e-9
# The first phase's steps overshoot the linearised boundary by this fraction (DeepFool's
# 0.02): a crossing is then found in a step or two, and the second phase walks back.
CROSSING_OVERSHOOT = 0.02
# The walk projects onto the intersection of up to this many linearisations (see attack).
MEMORY = 3
# The walk stops early once no attack moved closer by this fraction in a step.
SETTLED = 1e-6
# Starts taken from the nearest points classified otherwise (see attack).
NEAREST = 3
# The region search's iterations at most (each adds, drops or flips one constraint); on
# seed 0's width-100 networks 99.6 % of the searches had ended by then.
REGION_ITERATIONS = 100


def global_radius(f: torch.Tensor, t: torch.Tensor, lipschitz: torch.Tensor) -> torch.Tensor:
    """|f(x)|/L where sign(f(x)) = t, else 0: sign(f) cannot change within that distance,
    since |f(x + δ) − f(x)| ≤ L‖δ‖. Shapes broadcast (``f (N, M)``, ``t (N, 1)``, ``L (M,)``)."""
    return torch.where(torch.sign(f) == t, f.abs() / lipschitz, 0.0)


def local_radius(W: torch.Tensor, b: torch.Tensor, s: torch.Tensor, X: torch.Tensor, t: torch.Tensor,
                 spectral: torch.Tensor) -> torch.Tensor:
    """The largest radius ε that the local Lipschitz bound certifies, exactly, ``(N, M)``.

    In the ball of radius ε around x, a unit with |z_j| ≥ ε‖w_j‖ (z_j = w_j·x + b_j) cannot
    change state: it is *stable*. Every gradient of f inside the ball is then
    v_S + Σ_{j unstable} a_j s_j w_j with a_j ∈ {0, 1} and v_S = Σ_{j stable, active} s_j w_j
    fixed, so, element by element, |∇f| ≤ |v_S| + Σ_{j unstable} |w_j| and

        L(x, ε) = min( ‖ |v_S| + Σ_{j unstable} |w_j| ‖₂ ,  √h‖W‖₂ )

    bounds ‖∇f‖ on the whole (convex) ball: a Lipschitz constant of f there. The first term
    is at most ‖W‖_Mix (drop the stable inactive units and the cancellations of
    Σ_j |w_j|), the second is the global spectral bound, so this certificate is never worse
    than any global one (nor than √h‖W‖_F's, which is at least ‖W‖_Mix); where no unit is
    unstable it is |f(x)|/‖∇f(x)‖ (capped likewise).

    ε is certified when ε·L(x, ε) < |f(x)|. L(x, ε) only changes at the breakpoints
    ε_j = |z_j|/‖w_j‖, where unit j becomes unstable, and never decreases (a unit moving
    from stable to unstable replaces s_j w_j in v_S by |w_j|); so ε·L is non-decreasing and
    the certified radii form an interval [0, r). r is found exactly, without bisection: with
    the breakpoints sorted, L_k is L with the first k units unstable, valid on
    (ε_(k), ε_(k+1)]; r = max(ε_(k), |f|/L_k) at the first k where |f|/L_k ≤ ε_(k+1).

    ``spectral (M,)``: √h‖W‖₂ of each network (``model.spectral_bound``).
    """
    d = W.shape[-1]
    Z = torch.einsum("nd,mhd->nmh", X, W) + b  # (N, M, h)
    f = torch.relu(Z) @ s
    row_norm = W.norm(dim=-1)  # (M, h)
    breakpoint = torch.where(row_norm > 0, Z.abs() / row_norm, torch.inf)  # a zero row never changes
    breakpoint, order = breakpoint.sort(dim=-1)
    # Contribution of each unit to v_S while stable, and to the unstable sum; sorted by breakpoint.
    stable = (Z > 0).to(W.dtype)[..., None] * (s[:, None] * W)  # (N, M, h, d)
    stable = stable.gather(2, order[..., None].expand(-1, -1, -1, d))
    unstable = W.abs().expand(len(X), -1, -1, -1).gather(2, order[..., None].expand(-1, -1, -1, d))
    zero = torch.zeros_like(stable[:, :, :1])
    removed = torch.cat([zero, stable.cumsum(2)], 2)  # first k units' stable contributions, k = 0..h
    added = torch.cat([zero, unstable.cumsum(2)], 2)
    v_stable = stable.sum(2, keepdim=True) - removed
    lipschitz = torch.minimum((v_stable.abs() + added).norm(dim=-1), spectral[:, None])  # (N, M, h + 1)
    margin = torch.where(torch.sign(f) == t, f.abs(), 0.0)[..., None]
    reach = margin / lipschitz  # |f|/L_k (inf where L_k = 0: f is constant there)
    lower = torch.cat([torch.zeros_like(breakpoint[..., :1]), breakpoint], -1)  # ε_(k)
    upper = torch.cat([breakpoint, torch.full_like(breakpoint[..., :1], torch.inf)], -1)  # ε_(k+1)
    first = (reach <= upper).to(torch.int8).argmax(-1, keepdim=True)  # k = h always qualifies
    radius = torch.maximum(lower.gather(-1, first), reach.gather(-1, first)).squeeze(-1)
    return torch.where(margin.squeeze(-1) > 0, radius, 0.0)


@dataclass
class Networks:
    """M networks f_m(y) = Σ_j s_j relu(W_mj·y + b_mj), each evaluated at points of its own:
    ``Y (..., M, d)`` -> ``(..., M)``. (``model.forward`` evaluates all networks at the
    same points; an attack moves each network's points separately.)"""

    W: torch.Tensor  # (M, h, d)
    b: torch.Tensor  # (M, h)
    s: torch.Tensor  # (h,)

    def preactivations(self, Y):
        """z = W y + b ``(..., M, h)``, the bias added in place (the attack's most frequent
        operation: half the time of a separate sum and ReLU)."""
        Z = torch.einsum("...md,mhd->...mh", Y, self.W)
        Z += self.b
        return Z

    def value(self, Y):
        return self.preactivations(Y).relu_() @ self.s

    def value_and_grad(self, Y):
        """f and its exact gradient Σ_j s_j 1[z_j > 0] w_j (constant on each activation region)."""
        Z = self.preactivations(Y)
        return torch.relu(Z) @ self.s, torch.einsum("...mh,mhd->...md", (Z > 0).to(Y.dtype) * self.s, self.W)

    def descend(self, X, t, Y):
        """:func:`region_search` from every point of ``Y (..., M, d)`` towards its ``X``
        (broadcast to ``Y``), label ``t`` (broadcast to ``Y.shape[:-1]``)."""
        M, d = Y.shape[-2:]
        network = torch.arange(M).expand(Y.shape[:-1]).reshape(-1)
        return region_search(self.W, self.b, self.s, X.expand_as(Y).reshape(-1, d), t.expand(Y.shape[:-1]).reshape(-1),
                             Y.reshape(-1, d), network).view(Y.shape)


@dataclass
class RBFMachine:
    """scikit-learn's RBF ``SVC`` decision function from its fitted parameters,
    F(y) = Σ_i α_i exp(−γ‖y − x_i‖²) + β (positive: the class +1), with gradient
    Σ_i α_i exp(−γ‖y − x_i‖²) · (−2γ)(y − x_i). ``Y (..., d)`` -> ``(...)``."""

    support: torch.Tensor  # (S, d): the support vectors x_i
    coef: torch.Tensor  # (S,): the dual coefficients α_i (label times Lagrange multiplier)
    gamma: float
    intercept: float

    def kernel(self, Y):
        """exp(−γ‖y − x_i‖²) ``(..., S)``; the squared distances as ‖y‖² − 2 y·x_i + ‖x_i‖², a
        matrix product instead of an (..., S, d) array of differences."""
        squared = (Y**2).sum(-1, keepdim=True) - 2 * Y @ self.support.T + (self.support**2).sum(-1)
        return torch.exp(-self.gamma * squared.clamp_min(0))

    def value(self, Y):
        return self.kernel(Y) @ self.coef + self.intercept

    def value_and_grad(self, Y):
        weights = self.kernel(Y) * self.coef
        grad = -2 * self.gamma * (weights.sum(-1, keepdim=True) * Y - weights @ self.support)
        return weights.sum(-1) + self.intercept, grad

    @property
    def lipschitz(self) -> float:
        """A global Lipschitz constant of F: L = √(2γ/e)·Σ_i |α_i|.

        Each term's gradient has norm |α_i|·2γr·e^{−γr²} at distance r from its support
        vector, largest at r = 1/√(2γ), where it is |α_i|·√(2γ/e); the triangle inequality
        sums them. Loose: it adds every support vector's worst-case gradient as if all were
        aligned and every support vector sat at that maximising distance from y at once."""
        return math.sqrt(2 * self.gamma / math.e) * float(self.coef.abs().sum())


def misclassified(model, Y, t):
    """Whether sign(f(Y)) differs from t (f = 0 counts)."""
    return t * model.value(Y) <= 0


def bisect(model, t, inside, outside, steps=BISECTION_STEPS):
    """The last bracket of a bisection on the segment from ``inside`` (misclassified)
    towards ``outside``: its misclassified end, as close to ``outside`` as ``steps``
    halvings find (``outside`` itself when it is misclassified), and its other end."""
    good = misclassified(model, outside, t)
    lo = torch.zeros_like(t)
    hi = torch.ones_like(t)
    for _ in range(steps):
        mid = (lo + hi) / 2
        bad = misclassified(model, inside + mid[..., None] * (outside - inside), t)
        lo, hi = torch.where(bad, mid, lo), torch.where(bad, hi, mid)
    at = lambda x: inside + x[..., None] * (outside - inside)  # noqa: E731
    return torch.where(good[..., None], outside, at(lo)), torch.where(good[..., None], outside, at(hi))


def attack(model, X, t, restarts: int, steps: int, generator: torch.Generator):
    """A minimal-distance L2 attack: for each point, the closest misclassified point found.

    ``X (*S, d)`` holds one point per attack (for networks ``S = (N, M)``: every point
    against every network), ``t`` its label, broadcastable to ``S``. Returns the distance
    ``S`` (0 for a point already misclassified, inf where no misclassified point was found)
    and the misclassified points ``(*S, d)`` (x itself where none was found).

    ``restarts`` starts per point (:func:`starts`): x itself, the :data:`NEAREST` nearest
    points of ``X`` classified otherwise by the same classifier (decision-based starts: the
    segment to each crosses the boundary) and random points at up to the linearised
    distance |f(x)|/‖∇f(x)‖ from x. From each:

    1. *Cross* (:func:`cross`): up to ``steps`` DeepFool steps, then bisection back
       towards x, to a point on the boundary.
    2. *Walk along the boundary towards x* (:func:`walk`): up to ``steps`` projections onto
       the linearised boundary, and onto the intersections of its last linearisations, and
       the ray from x through the projection, each followed by bisection. A step can jump
       between distant pieces of the boundary.
    3. On the networks, whose f is linear inside each activation region, the walk takes one
       step and an exact search takes over (:meth:`Networks.descend`,
       :func:`region_search`): the closest misclassified point of the region, then of the
       neighbouring regions across the facets that lead closer, to a local minimum of the
       distance. The walk alone converges slowly where the closest point is a corner of
       several units' facets, as on the input-gradient-penalised networks (60 walk steps
       from 6 starts left NN+Grad's points 4 % more than 5 % away).

    The boundary is not convex: from one start each phase ends in a local minimum, which
    one depending on the start, so many starts of different kinds, each walked and
    searched, make most of the attack's strength. On the study's width-100 networks
    (NN, NN+Frob, NN+Mix, NN+Spec, NN+Grad at λ = 0.1, 0.3 and 1; seed 0 at 3000 and
    10 000 steps, seed 1 at 3000), against a much stronger search of the kind in
    tests/test_attack_quality.py, 10 starts and 6 steps came within 5 % of it on at least
    96 % of every network's points; the attack before (3 starts, the walk alone) on 58–83 %
    of NN+Grad's (worst 1.99×).

    The best distance over the starts is kept. Every returned point is misclassified by the
    classifier itself (bisection, and the check after the region search, accept only such
    points), so the distance is an upper bound of the true one.
    """
    t = torch.as_tensor(t, dtype=X.dtype).expand(X.shape[:-1])
    f0, g0 = model.value_and_grad(X)
    wrong = t * f0 <= 0
    Y, found = cross(model, X, t, starts(model, X, t, f0.abs() / g0.norm(dim=-1), restarts, generator), steps)
    descend = getattr(model, "descend", None)  # an exact local search, where the classifier has one (networks)
    Y = walk(model, X, t, Y, found, 1 if descend else steps)
    if descend:
        searched = descend(X, t, Y)
        closer = misclassified(model, searched, t) & ((searched - X).norm(dim=-1) <= (Y - X).norm(dim=-1))
        Y = torch.where((found & closer)[..., None], searched, Y)
    distance = torch.where(found, (Y - X).norm(dim=-1), torch.inf)
    best = distance.argmin(0)
    distance = distance.gather(0, best[None]).squeeze(0)
    Y = Y.gather(0, best[None, ..., None].expand(1, *Y.shape[1:])).squeeze(0)
    return torch.where(wrong, 0.0, distance), torch.where(wrong[..., None], X, Y)


def starts(model, X, t, linear, restarts, generator):
    """The attack's ``restarts`` starts per point, ``(restarts, *S, d)``: x; up to
    :data:`NEAREST` nearest points classified otherwise (:func:`nearest_others`); random
    points x + u·ρ with u uniform on the sphere and ρ uniform up to the linearised distance
    ``linear`` (0 where it is infinite: f flat at x)."""
    points = [X, *nearest_others(model, X, t, min(NEAREST, restarts - 1))]
    for _ in range(restarts - len(points)):
        direction = torch.randn(X.shape, generator=generator, dtype=X.dtype)
        length = torch.rand(X.shape[:-1], generator=generator, dtype=X.dtype) * torch.nan_to_num(linear, posinf=0.0)
        points.append(X + direction / direction.norm(dim=-1, keepdim=True) * length[..., None])
    return torch.stack(points)


def nearest_others(model, X, t, k):
    """For each point x of ``X (N, *C, d)``, the ``k`` nearest points y among the same
    classifier's points (axis 0) with t_x·f(y) ≤ 0, nearest first: misclassified as starts
    for x by construction. A list of ``k`` arrays like ``X``; x itself where there are fewer."""
    if k < 1:
        return []
    f = model.value(X).movedim(0, -1)  # (*C, N)
    label = t.movedim(0, -1)
    points = X.movedim(0, -2)  # (*C, N, d)
    D = torch.where(label[..., :, None] * f[..., None, :] <= 0, torch.cdist(points, points), torch.inf)
    distance, index = D.topk(min(k, D.shape[-1]), dim=-1, largest=False)  # (*C, N, k)
    nearest = [points.gather(-2, index[..., i, None].expand_as(points)) for i in range(index.shape[-1])]
    return [torch.where(torch.isfinite(distance[..., i, None]), y, points).movedim(-2, 0)
            for i, y in enumerate(nearest)]


def cross(model, X, t, Y, steps):
    """Phase 1 of :func:`attack`: up to ``steps`` DeepFool steps y ← y − 1.02 f(y) ∇f(y)/‖∇f(y)‖²
    (a projection onto the linearised boundary, slightly beyond) until every start is
    misclassified; then bisection on the segment from x to y moves y back to the boundary.
    Returns the points (x where a start never crossed) and which crossed."""
    for _ in range(steps):
        f, g = model.value_and_grad(Y)
        if (t * f <= 0).all():
            break
        move = torch.where(t * f > 0, -(1 + CROSSING_OVERSHOOT) * f / (g**2).sum(-1), 0.0)
        Y = Y + torch.nan_to_num(move, posinf=0.0, neginf=0.0)[..., None] * g
    found = misclassified(model, Y, t)
    return torch.where(found[..., None], bisect(model, t, Y, X.expand_as(Y))[0], X), found


def walk(model, X, t, Y, found, steps):
    """Phase 2 of :func:`attack`: ``steps`` times, move each misclassified y to the closest
    of these misclassified candidates:

    - project x onto the boundary as linearised at y (the closest point p of that
      hyperplane to x) and bisect from y towards p: the misclassified point of [y, p]
      nearest p. Distance to x is convex along the segment and p is at most as far as y,
      so no step moves y away; on a linear piece one step lands on the exact closest point
      |f(x)|/‖∇f‖. Where the boundary bends (a unit changes state on it) the closest point
      lies on the edge between two pieces, which one hyperplane never reaches: so x is
      also projected onto the intersection of that hyperplane with the linearisations at
      the far ends of the last bisections, which lie past the bend (up to :data:`MEMORY`
      planes);
    - the crossing on the ray from x through p, at most as far as y (:func:`ray`), for a
      boundary that curves away from x, where the segment [y, p] stays classified correctly.

    Stops once no attack moved closer by :data:`SETTLED` of its distance in a step."""
    beyond = []  # linearisations at the far ends of recent bisections, past a bend of the boundary
    for _ in range(steps):
        here = plane(model, X, Y)
        before = (Y - X).norm(dim=-1)
        targets = [project(X, t, [here, *beyond[:k]]) for k in range(len(beyond) + 1)]
        candidates = [*(bisect(model, t, Y, p) for p in targets), ray(model, X, t, targets[0], before, Y)]
        distances = torch.stack([(c - X).norm(dim=-1) for c, _ in candidates])
        best = distances.argmin(0)[None, ..., None].expand(1, *Y.shape)
        Y = torch.where(found[..., None], torch.stack([c for c, _ in candidates]).gather(0, best).squeeze(0), X)
        if ((Y - X).norm(dim=-1) >= before * (1 - SETTLED)).all():
            break
        outside = torch.stack([o for _, o in candidates]).gather(0, best).squeeze(0)
        beyond = [plane(model, X, outside), *beyond][:MEMORY - 1]
    return Y


def ray(model, X, t, target, length, Y):
    """The point at distance ``length`` from x on the ray through ``target``; where it is
    misclassified, bisection from it towards x (every point of that segment is at most
    ``length`` from x), else ``Y``. Both ends of the last bracket, as :func:`bisect`."""
    direction = target - X
    far = X + direction * torch.nan_to_num(length / direction.norm(dim=-1), posinf=0.0)[..., None]
    hit = misclassified(model, far, t)[..., None]
    inside, outside = bisect(model, t, far, X.expand_as(far))
    return torch.where(hit, inside, Y), torch.where(hit, outside, Y)


def plane(model, X, Y):
    """The linearisation of f at ``Y`` as (gradient g, its value a at x): f ≈ a + g·(y − x)."""
    f, g = model.value_and_grad(Y)
    return g, f + (g * (X - Y)).sum(-1)


def project(X, t, planes):
    """The closest point to x of the intersection of the hyperplanes {y: a + g·(y − x) = 0}
    (``planes``: (g, a) pairs), each aimed :data:`OVERSHOOT` past: x − Gᵀ(GGᵀ)⁻¹a."""
    G = torch.stack([g for g, _ in planes], -2)  # (..., k, d)
    a = torch.stack([a for _, a in planes], -1)
    a = a + t[..., None] * OVERSHOOT * a.abs()
    gram = G @ G.transpose(-1, -2)
    # A tiny ridge: a plane repeated, or of zero gradient (where f is flat, e.g. every unit
    # inactive), then adds no constraint instead of making the system singular.
    # Where every gradient vanishes the step is 0/0, and x itself is returned.
    ridge = 1e-12 * gram.diagonal(dim1=-2, dim2=-1).sum(-1)
    identity = torch.eye(len(planes), dtype=G.dtype)
    weights = torch.linalg.solve_ex(gram + ridge[..., None, None] * identity, a[..., None])[0]
    return X - torch.nan_to_num((G.transpose(-1, -2) @ weights).squeeze(-1), nan=0.0, posinf=0.0, neginf=0.0)


def region_search(W, b, s, X, t, Y, network, iterations=REGION_ITERATIONS):
    """For each misclassified start y of ``Y (B, d)`` against network ``network (B,)`` of
    ``W (M, h, d)``, ``b (M, h)``, ``s (h,)``: a misclassified point at most as far from
    its x (``X (B, d)``, label ``t (B,)``), at a local minimum of the distance where the
    search ends. ``(B, d)``.

    In an activation region (σ_j = ±1: unit j active or not) f is linear, f_σ, so the
    region's misclassified points form a polyhedron: σ_j z_j(y) ≥ 0 for every unit and
    −t f_σ(y) ≥ ε (ε = :data:`OVERSHOOT`·|f(x)|: misclassified beyond rounding). Its
    closest point to x is found by a primal active-set method from y: project x onto the
    constraints of the working set held as equalities, move towards that projection until
    another constraint stops the step (it joins the set), and at the projection itself drop
    the constraint of most negative multiplier; with none negative, the point is the
    polyhedron's closest. A unit's facet there with a positive multiplier is one that x
    lies beyond, and across it the neighbouring region's polyhedron goes on (z_j = 0 on the
    facet, so both regions' f agree there): the search flips that unit's state, the largest
    multiplier first, and goes on in that region; a unit flips again only once the search
    has moved closer since its last flip, so no cycle repeats without progress. Every step
    moves towards the closest point of an affine set that holds y (the first, the
    boundary's, to bisection's precision), so the distance does not grow. The constraint
    rows are unit vectors: multipliers are lengths, and the search is the same for W and b
    scaled together.

    Searches end independently; each iteration works on the unfinished ones only, of all
    networks together. A search also ends after ``iterations``, where its working set is
    full (d constraints: the set stays linearly independent, so only rounding fills it) or
    where its system is singular, with the point reached so far (misclassified: every step
    keeps the constraints)."""
    M, h, d = W.shape
    Wt = W.transpose(1, 2)

    def times(A, matrices, which):  # A[i] @ matrices[which[i]]: one product per network
        out = A.new_empty(len(A), matrices.shape[-1])
        for m in range(M):
            mine = which == m
            out[mine] = A[mine] @ matrices[m]
        return out

    eps = OVERSHOOT * (torch.relu(times(X, Wt, network) + b[network]) @ s).abs()
    active = times(Y, Wt, network) + b[network] > 0  # σ_j > 0
    working = torch.full((len(Y), d), -1, dtype=torch.long)  # constraint indices: units 0..h-1, boundary h
    working[:, 0] = h  # the boundary: y lies on it (to bisection's precision), as does the closest point
    flipped_at = torch.full(active.shape, torch.inf, dtype=Y.dtype)  # the distance when each unit last flipped
    Y = Y.clone()
    unit_index = torch.arange(h)
    unit_length = lambda v: torch.where(v > 0, v, 1.0)  # noqa: E731  (a zero row never stops a step: any scale)
    row_norm = unit_length(W.norm(dim=-1))
    live = torch.arange(len(Y))
    for _ in range(iterations):
        if not len(live):
            break
        # Only the slots in use, and one free: the rows are (searches, slots, d), the largest arrays.
        in_use = torch.nonzero((working[live] >= 0).any(0))
        width = min(d, int(in_use[-1]) + 2 if len(in_use) else 1)
        y, x, tl, el, on, last, net = (a[live] for a in (Y, X, t, eps, active, flipped_at, network))
        held = working[live, :width]
        sign = on.to(y.dtype) * 2 - 1
        piece = on.to(y.dtype) * s  # f_σ(y) = piece · z(y)
        g, c = times(piece, W, net), (piece * b[net]).sum(1)
        g_norm = unit_length(g.norm(dim=1))
        used = held >= 0
        boundary = held == h
        unit = held.clamp(0, h - 1)
        unit_sign = sign.gather(1, unit) / row_norm[net[:, None], unit]
        rows = torch.where(boundary[..., None], (-tl / g_norm)[:, None, None] * g[:, None],
                           unit_sign[..., None] * W[net[:, None], unit])
        rhs = torch.where(boundary, ((tl * c + el) / g_norm)[:, None], -unit_sign * b[net[:, None], unit])
        rows, rhs = rows * used[..., None], rhs * used
        gram = rows @ rows.transpose(1, 2)
        gram = gram + torch.diag_embed((~used).to(y.dtype) + 1e-12 * gram.diagonal(dim1=1, dim2=2).sum(1, keepdim=True))
        lam = torch.linalg.solve_ex(gram, (rhs - (rows @ x[..., None]).squeeze(-1))[..., None])[0].squeeze(-1) * used
        step = x + (rows.transpose(1, 2) @ lam[..., None]).squeeze(-1) - y
        broken = ~torch.isfinite(step).all(1)
        step = torch.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        # Ratio test: how far along the step each constraint outside the set stays satisfied.
        z, dz = times(y, Wt, net) + b[net], times(step, Wt, net)
        slack = torch.cat([sign * z, (-tl * (piece * z).sum(1) - el)[:, None]], 1)
        rate = torch.cat([sign * dz, (-tl * (piece * dz).sum(1))[:, None]], 1)
        member = torch.zeros((len(y), h + 2), dtype=torch.bool)  # the set's constraints; unused slots go to h + 1
        member = member.scatter_(1, torch.where(used, held, h + 1), True)[:, :-1]
        limit, blocking = torch.where((rate < 0) & ~member, slack.clamp(min=0) / -rate, torch.inf).min(1)
        limit = torch.where(broken, 0.0, limit)
        y = y + limit.clamp(max=1)[:, None] * step
        blocked = (limit < 1) & ~broken
        room = (~used).any(1)
        slot = torch.arange(width)
        held = torch.where((blocked & room)[:, None] & (slot == (~used).to(torch.int8).argmax(1)[:, None]),
                           blocking[:, None], held)
        least, worst = torch.where(used, lam, torch.inf).min(1)
        drop = ~blocked & (least < -1e-12)
        held = torch.where(drop[:, None] & (slot == worst[:, None]), -1, held)
        optimal = ~blocked & ~drop & ~broken
        distance = (y - x).norm(dim=1, keepdim=True)
        again = distance < last.gather(1, unit) * (1 - 1e-9)
        most, which = torch.where(used & ~boundary & again, lam, -torch.inf).max(1)
        hop = optimal & (most > 1e-12)
        flip = hop[:, None] & (unit_index == unit.gather(1, which[:, None]))
        held = torch.where(hop[:, None] & (slot == which[:, None]), -1, held)
        Y[live], active[live], flipped_at[live] = y, on ^ flip, torch.where(flip, distance, last)
        working[live, :width] = held
        live = live[~(broken | (blocked & ~room) | (optimal & ~hop))]
    return Y


def violations(radius: torch.Tensor, distance: torch.Tensor, rtol: float = 1e-9) -> torch.Tensor:
    """Where a misclassified point lies inside a certified radius: the attack's
    ``distance`` below ``radius`` beyond rounding. A sound certificate has none."""
    return distance < radius * (1 - rtol)
