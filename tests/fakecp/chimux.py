# SPDX-License-Identifier: MIT
"""A go-chi/chi v5 router look-alike, so routing quirks match the real CP.

What is reproduced (chi v5.2.5, tree.go / mux.go):
  * Mux.use() middlewares wrap the *routing* of that mux, so a sub-router
    mounted with Route()/Mount() authenticates before it knows whether the
    path exists (401 first, then chi's "404 page not found").
  * with_()/group() middlewares wrap individual handlers only (chi inline
    muxes), so unknown paths next to them are plain 404s.
  * Mount(p) registers p, p/ and p/* for every method; the sub-router sees
    "/" + the wildcard remainder.
  * Lookup order static > {param} > *, with backtracking; a {param} never
    matches an empty final segment; a path that matches a leaf lacking the
    method records the leaf's methods and keeps searching, and if nothing
    else matches the reply is 405 with one Allow header per recorded method
    (duplicates included, as chi does).
  * A method chi does not know gets a bare 405.

Handlers and middlewares are coroutines: handler(ctx) -> response,
middleware(ctx, next) -> response.  Used by routes.py and control.py.
"""

import httpio


class RouteCtx:
    """chi's shared routing context for one request (rctx)."""

    def __init__(self):
        self.route_path = ""          # "" = use the request path
        self.methods_allowed = []
        self.method_not_allowed = False
        self.last_key = None          # last param key of the matched route


class _Endpoint:
    def __init__(self, handler, keys):
        self.handler = handler
        self.keys = keys


class _Node:
    def __init__(self):
        self.static = {}
        self.param = None             # child _Node for a {name} segment
        self.catchall = None          # child _Node for "*"
        self.endpoints = {}           # method -> _Endpoint


def _split(path):
    return path[1:].split("/") if path.startswith("/") else path.split("/")


def _chain(middlewares, handler):
    for mw in reversed(middlewares):
        handler = (lambda m, h: (lambda ctx: m(ctx, h)))(mw, handler)
    return handler


class _Registrar:
    """The route-registration API shared by Mux and its inline views."""

    def _add(self, methods, pattern, handler):
        raise NotImplementedError

    def handle(self, methods, pattern, handler):
        self._add(methods, pattern, handler)

    def get(self, pattern, handler):
        self._add(("GET",), pattern, handler)

    def post(self, pattern, handler):
        self._add(("POST",), pattern, handler)

    def put(self, pattern, handler):
        self._add(("PUT",), pattern, handler)

    def patch(self, pattern, handler):
        self._add(("PATCH",), pattern, handler)

    def delete(self, pattern, handler):
        self._add(("DELETE",), pattern, handler)


class _Inline(_Registrar):
    """r.With(mw...) / r.Group(): middlewares wrap each handler."""

    def __init__(self, mux, middlewares):
        self.mux = mux
        self.middlewares = list(middlewares)

    def use(self, mw):
        self.middlewares.append(mw)

    def with_(self, *mws):
        return _Inline(self.mux, self.middlewares + list(mws))

    def _add(self, methods, pattern, handler):
        self.mux._add(methods, pattern, _chain(self.middlewares, handler))

    def route(self, pattern, fn):
        sub = Mux()
        for mw in self.middlewares:
            sub.use(mw)
        fn(sub)
        self.mux.mount(pattern, sub)
        return sub


class Mux(_Registrar):
    """A chi.Mux: middlewares + a routing tree."""

    def __init__(self):
        self.middlewares = []
        self.root = _Node()

    def use(self, mw):
        self.middlewares.append(mw)

    def with_(self, *mws):
        return _Inline(self, mws)

    def group(self, fn):
        fn(_Inline(self, ()))

    def route(self, pattern, fn):
        """r.Route(pattern, fn): a new sub-router mounted at pattern."""
        sub = Mux()
        fn(sub)
        self.mount(pattern, sub)
        return sub

    def mount(self, pattern, sub):
        async def mount_handler(ctx):
            rctx = ctx.rctx
            rctx.route_path = "/" + ctx.params.get("*", "") \
                if rctx.last_key == "*" else "/"
            if "*" in ctx.params:
                ctx.params["*"] = ""
            return await sub.serve(ctx)

        if not pattern.endswith("/"):
            self._add(httpio.CHI_METHODS, pattern, mount_handler)
            self._add(httpio.CHI_METHODS, pattern + "/", mount_handler)
            pattern += "/"
        self._add(httpio.CHI_METHODS, pattern + "*", mount_handler)

    def _add(self, methods, pattern, handler):
        node = self.root
        keys = []
        for seg in _split(pattern):
            if seg == "*":
                node.catchall = node.catchall or _Node()
                node = node.catchall
                keys.append("*")
            elif seg.startswith("{") and seg.endswith("}"):
                node.param = node.param or _Node()
                node = node.param
                keys.append(seg[1:-1])
            else:
                node = node.static.setdefault(seg, _Node())
        for m in methods:
            node.endpoints[m] = _Endpoint(handler, keys)

    async def serve(self, ctx):
        """ServeHTTP: run this mux's middlewares, then route."""
        if getattr(ctx, "rctx", None) is None:
            ctx.rctx = RouteCtx()
        return await _chain(self.middlewares, self._route_http)(ctx)

    async def _route_http(self, ctx):
        rctx = ctx.rctx
        if ctx.method not in httpio.CHI_METHODS:
            return httpio.chi_method_not_allowed()
        path = rctx.route_path or ctx.path or "/"
        values = []
        ep = self._find(self.root, _split(path), 0, ctx.method, rctx, values)
        if ep is None:
            if rctx.method_not_allowed:
                return httpio.chi_method_not_allowed(rctx.methods_allowed)
            return httpio.chi_not_found()
        ctx.params.update(zip(ep.keys, values))
        rctx.last_key = ep.keys[-1] if ep.keys else None
        return await ep.handler(ctx)

    def _leaf(self, node, method, rctx):
        ep = node.endpoints.get(method)
        if ep is not None:
            return ep
        if node.endpoints:
            rctx.methods_allowed.extend(node.endpoints)
            rctx.method_not_allowed = True
        return None

    def _find(self, node, segs, i, method, rctx, values):
        if i == len(segs):
            return self._leaf(node, method, rctx)
        seg = segs[i]
        child = node.static.get(seg)
        if child is not None:
            ep = self._find(child, segs, i + 1, method, rctx, values)
            if ep is not None:
                return ep
        if node.param is not None and not (seg == "" and i == len(segs) - 1):
            values.append(seg)
            ep = self._find(node.param, segs, i + 1, method, rctx, values)
            if ep is not None:
                return ep
            values.pop()
        if node.catchall is not None:
            values.append("/".join(segs[i:]))
            ep = self._leaf(node.catchall, method, rctx)
            if ep is not None:
                return ep
            values.pop()
        return None
