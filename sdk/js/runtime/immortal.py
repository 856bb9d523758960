# Patches the QuickJS of rquickjs-sys 0.13.0 (crates.io) for volley's runtime:
#   - immortal values: JS_MakeImmortal() makes everything alive at the end of
#     the build's snapshot immortal (its reference counts are never written
#     again, the cycle collector never scans it), so the snapshot's pages stay
#     shared between VUs; before that, it makes every property QuickJS
#     makes on first use (built-in methods, function prototypes), so no VU
#     writes the snapshot's objects to make one;
#   - JS_SealArenas(), and no small-block arenas at all (every block from
#     malloc), so blocks allocated after the snapshot do not go to free
#     blocks scattered over its pages;
#   - a cache of freed small blocks per size class in front of malloc (see
#     JS_BLOCK_CACHE_MAX), emptied by JS_SealArenas() too;
#   - string equality that skips a string compared with itself and compares
#     one-byte strings eight bytes at a time;
#   - fast paths for what every request's JavaScript does (the generic
#     path kept for the rest): strict equality decided in the interpreter
#     when the tags decide it, an object literal's new field added
#     directly, a new function's `length` and `name` added directly,
#     Object.keys' array filled directly, and JS_DefineNewField();
#   - JS_FindAtomLen(): an existing atom looked up, none made.
#   - the last JS_SHAPE_KEEP shapes freed kept, for the next object with
#     the same properties (js_free_shape0).
#   - a read of the global `undefined` compiled as the value, not a lookup.
#   - UTF-8 encoding and decoding in C for the SDK (__volley_utf8_encode,
#     __volley_utf8_decode).
#   - JSON.stringify copying a string's runs that need no escape at once.
#   - MD5, SHA-1 and SHA-256, and their HMACs, in C for the SDK
#     (__volley_digest, __volley_hmac).
# Usage: python3 immortal.py <rquickjs-sys-0.13.0 folder>   (once; asserts each
# edit matches exactly once, so a different QuickJS fails loudly)
import re, sys
root = sys.argv[1]
p = root + '/quickjs/quickjs.c'
s = open(p).read()
n = 0
def rep(old, new, count=1):
    global s, n
    c = s.count(old)
    assert c == count, (old, c)
    s = s.replace(old, new); n += c

rep("""#define JS_GC_MARK(p)   (js_rc(p)->mark)
""", """#define JS_GC_MARK(p)   (js_rc(p)->mark)

/* Immortal values (volley): everything alive when JS_MakeImmortal()
   runs (end of the wizer snapshot) gets ref_count = JS_RC_IMMORTAL; the
   dup/free paths leave such counts alone so the snapshot pages holding
   them are never written, and the cycle collector never scans them. Any
   count >= 2^29 counts as immortal so that the few unguarded +1/-1 sites
   cannot bring one down to 0. */
#define JS_RC_IMMORTAL (1 << 30)
static inline bool js_rc_is_immortal(int rc)
{
    return rc >= (1 << 29);
}
#define JS_RC_INC(rc) do { if (likely(!js_rc_is_immortal(rc))) (rc)++; } while (0)
""")
rep("""    struct list_head gc_zero_ref_count_list;
    struct list_head tmp_obj_list; /* used during GC */
""", """    struct list_head gc_zero_ref_count_list;
    struct list_head tmp_obj_list; /* used during GC */
    struct list_head immortal_obj_list; /* GC objects made immortal, never scanned */
""")
rep("""    init_list_head(&rt->gc_zero_ref_count_list);
    rt->gc_phase = JS_GC_PHASE_NONE;
""", """    init_list_head(&rt->gc_zero_ref_count_list);
    init_list_head(&rt->immortal_obj_list);
    rt->gc_phase = JS_GC_PHASE_NONE;
""")
# increments (not the context's nor async function states')
def inc(m):
    global n
    if m.group(2) in ('ctx', 's'):
        return m.group(0)
    n += 1
    return f"{m.group(1)}JS_RC_INC(JS_REF_COUNT({m.group(2)}));"
s = re.sub(r"(\n[ \t]+)JS_REF_COUNT\(([\w>\-]+)\)\+\+;", inc, s)
# decrement-and-test
def dec(m):
    global n
    var, op = m.group(2), m.group(3)
    if var in ('ctx', 's'):
        return m.group(0)
    n += 1
    if op.startswith('>'):
        return f"{m.group(1)}js_rc_is_immortal(JS_REF_COUNT({var})) || --JS_REF_COUNT({var}) {op}"
    return f"{m.group(1)}!js_rc_is_immortal(JS_REF_COUNT({var})) && --JS_REF_COUNT({var}) {op}"
s = re.sub(r"(if \((?:unlikely\()?)--JS_REF_COUNT\((\w+)\) (<= 0|== 0|> 0)", dec, s)
rep("""            if (__JS_AtomIsConst(i))
                JS_REF_COUNT(str)--;""", """            if (__JS_AtomIsConst(i) && !js_rc_is_immortal(JS_REF_COUNT(str)))
                JS_REF_COUNT(str)--;""")
for fn in ("gc_decref_child", "gc_scan_incref_child", "gc_scan_incref_child2"):
    rep(f"""static void {fn}(JSRuntime *rt, JSGCObjectHeader *p)
{{
""", f"""static void {fn}(JSRuntime *rt, JSGCObjectHeader *p)
{{
    if (js_rc_is_immortal(JS_REF_COUNT(p)))
        return;
""")
rep("""    /* free the GC objects in a cycle */
    gc_free_cycles(rt);
}
""", """    /* free the GC objects in a cycle */
    gc_free_cycles(rt);
}

static void js_immortal_value(JSValueConst v)
{
    switch (JS_VALUE_GET_TAG(v)) {
    case JS_TAG_STRING:
    case JS_TAG_STRING_ROPE:
    case JS_TAG_BIG_INT:
    case JS_TAG_SYMBOL:
        JS_REF_COUNT(JS_VALUE_GET_PTR(v)) = JS_RC_IMMORTAL;
        break;
    default: /* objects and bytecode: done by the GC list walk */
        break;
    }
}

static int JS_AutoInitProperty(JSContext *ctx, JSObject *p, JSAtom prop,
                               JSProperty *pr, JSShapeProperty *prs);

/* Make now every property QuickJS makes on first use: a built-in method, a
   function's `prototype`, a module namespace. Made by a VU, each wrote a
   property of an object in the snapshot, so each such object's page
   became that VU's own copy (9 pages, 36 KiB, for a k6 GET + check). Made
   here, they are in the snapshot, shared by every VU. The collector is
   held off meanwhile: it would move the objects this walk goes through. */
static void js_make_autoinit_properties(JSRuntime *rt)
{
    struct list_head *el;
    JSContext *ctx;
    size_t threshold = rt->malloc_gc_threshold;

    if (list_empty(&rt->context_list))
        return;
    ctx = list_entry(rt->context_list.next, JSContext, link);
    rt->malloc_gc_threshold = SIZE_MAX;
    /* objects made on the way are added at the list's end, so visited too */
    list_for_each(el, &rt->gc_obj_list) {
        JSGCObjectHeader *gp = list_entry(el, JSGCObjectHeader, link);
        JSObject *p;
        uint32_t i;

        if (JS_GC_TYPE(gp) != JS_GC_OBJ_TYPE_JS_OBJECT)
            continue;
        p = (JSObject *)gp;
        /* by index: making one may move the shape and the properties */
        for (i = 0; i < p->shape->prop_count; i++) {
            JSShapeProperty *prs = get_shape_prop(p->shape) + i;
            if (prs->atom == JS_ATOM_NULL ||
                (prs->flags & JS_PROP_TMASK) != JS_PROP_AUTOINIT)
                continue;
            if (JS_AutoInitProperty(ctx, p, prs->atom, &p->prop[i], prs) < 0) {
                /* left as it was (out of memory) or undefined: first use
                   would have thrown the same */
                JS_FreeValue(ctx, JS_GetException(ctx));
                break;
            }
        }
    }
    rt->malloc_gc_threshold = threshold;
}

/* Make every value alive now immortal: the GC objects (except contexts,
   open variable references and async function states), all atoms, the
   loaded modules and the strings/bigints directly held by object
   properties, fast arrays, constant pools and closed-over variables.
   Meant to be called once, after JS_RunGC(), at the end of a snapshot's
   initialization. Immortal values are never freed. */
void JS_MakeImmortal(JSRuntime *rt)
{
    struct list_head *el, *el1;
    JSGCObjectHeader *gp;
    JSContext *ctx;
    int i;

    js_make_autoinit_properties(rt);
    /* the shapes kept become immortal below with everything else */
    memset(rt->shape_keep, 0, sizeof(rt->shape_keep));
    for (i = 1; i < rt->atom_size; i++) {
        JSAtomStruct *a = rt->atom_array[i];
        if (!atom_is_free(a))
            JS_REF_COUNT(a) = JS_RC_IMMORTAL;
    }
    list_for_each(el, &rt->context_list) {
        ctx = list_entry(el, JSContext, link);
        list_for_each(el1, &ctx->loaded_modules) {
            JSModuleDef *m = list_entry(el1, JSModuleDef, link);
            JS_REF_COUNT(m) = JS_RC_IMMORTAL;
        }
    }
    list_for_each_safe(el, el1, &rt->gc_obj_list) {
        gp = list_entry(el, JSGCObjectHeader, link);
        switch (JS_GC_TYPE(gp)) {
        case JS_GC_OBJ_TYPE_JS_OBJECT:
            {
                JSObject *p = (JSObject *)gp;
                JSShape *sh = p->shape;
                JSShapeProperty *prs = get_shape_prop(sh);
                for (i = 0; i < sh->prop_count; i++, prs++) {
                    if (prs->atom != JS_ATOM_NULL &&
                        (prs->flags & JS_PROP_TMASK) == 0)
                        js_immortal_value(p->prop[i].u.value);
                }
                if (p->fast_array && (p->class_id == JS_CLASS_ARRAY ||
                                      p->class_id == JS_CLASS_ARGUMENTS)) {
                    uint32_t j;
                    for (j = 0; j < p->u.array.count; j++)
                        js_immortal_value(p->u.array.u.values[j]);
                }
            }
            break;
        case JS_GC_OBJ_TYPE_FUNCTION_BYTECODE:
            {
                JSFunctionBytecode *b = (JSFunctionBytecode *)gp;
                for (i = 0; i < b->cpool_count; i++)
                    js_immortal_value(b->cpool[i]);
            }
            break;
        case JS_GC_OBJ_TYPE_VAR_REF:
            {
                JSVarRef *var_ref = (JSVarRef *)gp;
                if (!var_ref->is_detached)
                    continue;
                js_immortal_value(var_ref->value);
            }
            break;
        case JS_GC_OBJ_TYPE_SHAPE:
            break;
        default: /* contexts, async function states: stay mortal */
            continue;
        }
        JS_REF_COUNT(gp) = JS_RC_IMMORTAL;
        list_del(&gp->link);
        list_add_tail(&gp->link, &rt->immortal_obj_list);
    }
}

/* Detach every partly used arena from the free lists, so that blocks
   allocated after the snapshot come from new arenas instead of the free
   blocks scattered over the snapshot's pages. A detached arena gets
   blocks back only by frees; once full again... it is never full again
   (no allocation uses it), and it is released when its last block is. */
void JS_SealArenas(JSRuntime *rt)
{
    struct list_head *el, *el1, *head;
    int i;

    for (i = 0; i < JS_ARENA_BLOCK_SIZE_COUNT; i++) {
        head = &rt->arena_state.free_arena_list[i];
        list_for_each_safe(el, el1, head) {
            JSArena *ar = list_entry(el, JSArena, free_link);
            init_list_head(&ar->free_link);
        }
        init_list_head(head);
        /* volley: the cached blocks lie in the snapshot's pages too */
        rt->arena_state.cache[i] = NULL;
        rt->arena_state.cache_len[i] = 0;
    }
}
""")
rep("""#define JS_ARENA_LARGE_BLOCKS_ONLY 0
""", """/* volley: no arenas, every block from the backing malloc */
#define JS_ARENA_LARGE_BLOCKS_ONLY 1
""")
# A small block freed is kept for the next allocation of its size class
# (at most JS_BLOCK_CACHE_MAX of each), in front of malloc: a block from
# malloc took five calls and dlmalloc's own work, about a seventh of a
# JavaScript request's instructions. The blocks stay where malloc put them
# (arenas, one 4 KiB region per size class, cost a VU 105 KiB more).
rep("""    struct list_head free_arena_list[JS_ARENA_BLOCK_SIZE_COUNT];
    _Alignas(JS_ARENA_ALIGN) uint8_t zero_size_block[sizeof(JSMallocBlockHeader)];
} JSArenaState;
""", """    struct list_head free_arena_list[JS_ARENA_BLOCK_SIZE_COUNT];
    _Alignas(JS_ARENA_ALIGN) uint8_t zero_size_block[sizeof(JSMallocBlockHeader)];
    /* volley: freed blocks of each size class, linked through their
       user_data (block_size_idx is the class; large blocks have 0xff) */
    JSMallocBlockHeader *cache[JS_ARENA_BLOCK_SIZE_COUNT];
    uint8_t cache_len[JS_ARENA_BLOCK_SIZE_COUNT];
} JSArenaState;

#define JS_BLOCK_CACHE_MAX 8
""")
rep("""    } else {
        return arena_malloc_large(rt, size);
    }
}
""", """    } else if (total_size <= JS_ARENA_MAX_SMALL_SIZE) {
        /* volley: a block of the size class, from its cache when it has one */
        JSArenaState *s = &rt->arena_state;
        int c = arena_get_size_index(total_size);
        JSMallocBlockHeader *b = s->cache[c];
        if (b) {
            s->cache[c] = *(JSMallocBlockHeader **)b->user_data;
            s->cache_len[c]--;
            return b->user_data;
        }
        b = rt->mf.js_malloc(rt->malloc_state.opaque, arena_block_sizes[c]);
        if (!b)
            return NULL;
        b->u.block_idx = JS_ARENA_FREE_NIL;
        b->block_size_idx = c;
        return b->user_data;
    } else {
        return arena_malloc_large(rt, size);
    }
}
""")
rep("""        if (b == arena_zero_block(rt)) {
            /* nothing to do */
        } else {
            rt->mf.js_free(rt->malloc_state.opaque, b);
        }
""", """        if (b == arena_zero_block(rt)) {
            /* nothing to do */
        } else if (b->block_size_idx < JS_ARENA_BLOCK_SIZE_COUNT &&
                   rt->arena_state.cache_len[b->block_size_idx] < JS_BLOCK_CACHE_MAX) {
            /* volley: kept for the next block of its size class */
            JSArenaState *s = &rt->arena_state;
            int c = b->block_size_idx;
            *(JSMallocBlockHeader **)b->user_data = s->cache[c];
            s->cache[c] = b;
            s->cache_len[c]++;
        } else {
            rt->mf.js_free(rt->malloc_state.opaque, b);
        }
""")
rep("""            rt->mf.js_free(rt->malloc_state.opaque, ar);
        }
        init_list_head(&s->arena_list[i]);
        init_list_head(&s->free_arena_list[i]);
    }
}
""", """            rt->mf.js_free(rt->malloc_state.opaque, ar);
        }
        init_list_head(&s->arena_list[i]);
        init_list_head(&s->free_arena_list[i]);
        /* volley: and the blocks kept for their size class */
        while (s->cache[i]) {
            JSMallocBlockHeader *b = s->cache[i];
            s->cache[i] = *(JSMallocBlockHeader **)b->user_data;
            rt->mf.js_free(rt->malloc_state.opaque, b);
        }
        s->cache_len[i] = 0;
    }
}
""")
# Strict equality of two strings (`===`, `typeof x === 'string'`, a Map's
# keys): the same string is equal without reading it, and one-byte strings
# are compared eight bytes at a time, not by wasi-libc's byte-by-byte
# memcmp (about a twentieth of a k6 request with params and a header
# check went to comparing strings).
rep("""static bool js_string_eq(JSString *p1, JSString *p2) {
    if (p1->len != p2->len)
        return false;
    return js_string_memcmp(p1, p2, p1->len) == 0;
}
""", """static bool js_string_eq(JSString *p1, JSString *p2) {
    if (p1 == p2)
        return true;
    if (p1->len != p2->len)
        return false;
    if (likely(!p1->is_wide_char && !p2->is_wide_char)) {
        /* volley: a word at a time */
        const uint8_t *a = str8(p1), *b = str8(p2);
        uint32_t n = p1->len;
        for (; n >= 8; n -= 8, a += 8, b += 8) {
            uint64_t x, y;
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return false;
        }
        for (; n > 0; n--)
            if (*a++ != *b++)
                return false;
        return true;
    }
    return js_string_memcmp(p1, p2, p1->len) == 0;
}
""")
# A size class's block: its size from the table, not from malloc (two calls
# more on every allocation and every free, for the heap's accounting); and
# a reallocation that still fits its class stays where it is.
rep("""        if (b == arena_zero_block(rt)) {
            return 0;
        } else {
            size_t size = rt->mf.js_malloc_usable_size(b);
""", """        if (b == arena_zero_block(rt)) {
            return 0;
        } else if (b->block_size_idx < JS_ARENA_BLOCK_SIZE_COUNT) {
            return arena_block_sizes[b->block_size_idx] - sizeof(JSMallocBlockHeader);
        } else {
            size_t size = rt->mf.js_malloc_usable_size(b);
""")
rep("""        if (b == arena_zero_block(rt)) {
            return js_arena_malloc(rt, size);
        } else {
            JSMallocBlockHeader *nb;
""", """        if (b == arena_zero_block(rt)) {
            return js_arena_malloc(rt, size);
        } else if (b->block_size_idx < JS_ARENA_BLOCK_SIZE_COUNT &&
                   ((size + JS_ARENA_ALIGN - 1) & ~(size_t)(JS_ARENA_ALIGN - 1)) +
                   sizeof(JSMallocBlockHeader) <= arena_block_sizes[b->block_size_idx]) {
            return ptr; /* volley: still fits its size class */
        } else {
            JSMallocBlockHeader *nb;
""")
# JS_FreeContext's count dropped in a function of its own (volley).
rep("""void JS_FreeContext(JSContext *ctx)
{
    JSRuntime *rt = ctx->rt;
    int i;

    if (--JS_REF_COUNT(ctx) > 0)
        return;
    assert(JS_REF_COUNT(ctx) == 0);
""", """static no_inline void js_free_context(JSContext *ctx);

/* volley: only the count dropped here, the context freed by a function of
   its own. The binding frees a context handle with each value it held (41
   times an iteration of a k6 request with params), and the compiled
   function saved and restored every register its whole body uses on each
   call: 54 instructions for a decrement. */
void JS_FreeContext(JSContext *ctx)
{
    if (--JS_REF_COUNT(ctx) > 0)
        return;
    js_free_context(ctx);
}

static no_inline void js_free_context(JSContext *ctx)
{
    JSRuntime *rt = ctx->rt;
    int i;

    assert(JS_REF_COUNT(ctx) == 0);
""")
# JS_FreeValueRT's body as an inline function, for the interpreter's strict
# equality too; and the test for a field added directly (volley).
rep("""void JS_FreeValueRT(JSRuntime *rt, JSValue v)
{
    if (JS_VALUE_HAS_REF_COUNT(v)) {
        void *p = JS_VALUE_GET_PTR(v);
        if (!js_rc_is_immortal(JS_REF_COUNT(p)) && --JS_REF_COUNT(p) <= 0) {
            js_free_value_rt(rt, v);
        }
    }
}
""", """/* volley: JS_FreeValueRT, inlined where it is called (the interpreter's
   strict equality) */
static inline void js_free_value_inline(JSRuntime *rt, JSValue v)
{
    if (JS_VALUE_HAS_REF_COUNT(v)) {
        void *p = JS_VALUE_GET_PTR(v);
        if (!js_rc_is_immortal(JS_REF_COUNT(p)) && --JS_REF_COUNT(p) <= 0) {
            js_free_value_rt(rt, v);
        }
    }
}

void JS_FreeValueRT(JSRuntime *rt, JSValue v)
{
    js_free_value_inline(rt, v);
}

/* volley: whether `atom` may be added to `p` by add_property, as
   JS_DefineProperty would end up doing for a data property: an ordinary,
   extensible object that lacks it */
static inline bool js_ordinary_lacks(JSObject *p, JSAtom atom)
{
    JSProperty *pr;
    return !p->is_exotic && !p->fast_array && p->extensible &&
        !find_own_property(&pr, p, atom);
}
""")
# Strict equality decided in the interpreter where the tags decide it, and
# an object literal's new field added directly (volley); see the README.
# The fast path frees through ctx->rt, not the interpreter's local rt: rt
# there made every bytecode dearer (782 -> 831 instructions a loop turn;
# Cranelift keeps fewer of the loop's values in registers).
rep("""static no_inline int js_strict_eq_slow(JSContext *ctx, JSValue *sp,
                                       bool is_neq)
""", """/* volley: a tag whose values are strictly equal only to values of the
   same tag (no number, bigint or rope string) */
static inline bool js_strict_eq_tag_alone(int tag)
{
    return tag == JS_TAG_UNDEFINED || tag == JS_TAG_NULL ||
        tag == JS_TAG_BOOL || tag == JS_TAG_OBJECT ||
        tag == JS_TAG_SYMBOL || tag == JS_TAG_STRING;
}

static no_inline int js_strict_eq_slow(JSContext *ctx, JSValue *sp,
                                       bool is_neq)
""")
rep("""            OP_CMP(OP_strict_eq, ==, js_strict_eq_slow(ctx, sp, 0));
            OP_CMP(OP_strict_neq, !=, js_strict_eq_slow(ctx, sp, 1));
""", """/* volley: besides two ints, what the tags decide is decided here (not in
   js_strict_eq_slow's three calls, 20-30 instructions less): undefined,
   null and booleans by value, objects and symbols by identity, a string
   compared with itself, and two values of different tags that are never
   equal. Anything else (numbers, bigints, two strings) goes the slow way. */
#define OP_STRICT_EQ(opcode, is_neq)                                    \\
            CASE(opcode):                                               \\
                {                                                       \\
                JSValue op1, op2;                                       \\
                int t1, t2;                                             \\
                bool res;                                               \\
                op1 = sp[-2];                                           \\
                op2 = sp[-1];                                           \\
                if (likely(JS_VALUE_IS_BOTH_INT(op1, op2))) {           \\
                    res = JS_VALUE_GET_INT(op1) == JS_VALUE_GET_INT(op2); \\
                    goto opcode ## _done;                               \\
                }                                                       \\
                t1 = JS_VALUE_GET_NORM_TAG(op1);                        \\
                t2 = JS_VALUE_GET_NORM_TAG(op2);                        \\
                if (t1 == t2 && (t1 == JS_TAG_UNDEFINED || t1 == JS_TAG_NULL || \\
                                 t1 == JS_TAG_BOOL)) {                  \\
                    res = JS_VALUE_GET_INT(op1) == JS_VALUE_GET_INT(op2); \\
                } else if (t1 == t2 && (t1 == JS_TAG_OBJECT || t1 == JS_TAG_SYMBOL || \\
                                        (t1 == JS_TAG_STRING &&         \\
                                         JS_VALUE_GET_PTR(op1) == JS_VALUE_GET_PTR(op2)))) { \\
                    res = JS_VALUE_GET_PTR(op1) == JS_VALUE_GET_PTR(op2); \\
                    js_free_value_inline(ctx->rt, op1);                 \\
                    js_free_value_inline(ctx->rt, op2);                 \\
                } else if (t1 != t2 && js_strict_eq_tag_alone(t1) &&    \\
                           js_strict_eq_tag_alone(t2)) {                \\
                    res = false;                                        \\
                    js_free_value_inline(ctx->rt, op1);                 \\
                    js_free_value_inline(ctx->rt, op2);                 \\
                } else {                                                \\
                    sf->cur_pc = pc;                                    \\
                    if (js_strict_eq_slow(ctx, sp, is_neq))             \\
                        goto exception;                                 \\
                    sp--;                                               \\
                    BREAK;                                              \\
                }                                                       \\
            opcode ## _done:                                            \\
                sp[-2] = js_bool(res ^ is_neq);                         \\
                sp--;                                                   \\
                }                                                       \\
            BREAK

            OP_STRICT_EQ(OP_strict_eq, 0);
            OP_STRICT_EQ(OP_strict_neq, 1);
""")
rep("""                atom = get_u32(pc);
                pc += 4;

                ret = JS_DefinePropertyValue(ctx, sp[-2], atom, sp[-1],
                                             JS_PROP_C_W_E | JS_PROP_THROW);
""", """                atom = get_u32(pc);
                pc += 4;

                /* volley: a field an ordinary object lacks (an object
                   literal's) is added here, the value moved in: what
                   JS_DefineProperty ends in, without its checks and a
                   dup and free of the value (about 200 instructions). */
                if (likely(JS_VALUE_GET_TAG(sp[-2]) == JS_TAG_OBJECT)) {
                    JSObject *p = JS_VALUE_GET_OBJ(sp[-2]);
                    JSProperty *pr;
                    if (js_ordinary_lacks(p, atom)) {
                        pr = add_property(ctx, p, atom, JS_PROP_C_W_E);
                        if (unlikely(!pr))
                            goto exception;
                        pr->u.value = sp[-1];
                        sp--;
                        BREAK;
                    }
                }
                ret = JS_DefinePropertyValue(ctx, sp[-2], atom, sp[-1],
                                             JS_PROP_C_W_E | JS_PROP_THROW);
""")
# A new function's `length` and `name`, and Object.keys' array, made
# without the generic define (volley).
rep("""    /* ES6 feature non compatible with ES5.1: length is configurable */
    JS_DefinePropertyValue(ctx, func_obj, JS_ATOM_length, js_int32(len),
                           JS_PROP_CONFIGURABLE);
""", """    JSObject *p = JS_VALUE_GET_OBJ(func_obj);
    JSProperty *pr;
    /* volley: a function made just now (a closure, on every evaluation
       of its expression) has no property yet: both are added directly,
       as JS_DefinePropertyValue would end up doing, without its
       checks. */
    if (p->shape->prop_count == 0 && !p->is_exotic && p->extensible) {
        pr = add_property(ctx, p, JS_ATOM_length, JS_PROP_CONFIGURABLE);
        if (unlikely(!pr))
            return;
        pr->u.value = js_int32(len);
        pr = add_property(ctx, p, JS_ATOM_name, JS_PROP_CONFIGURABLE);
        if (unlikely(!pr))
            return;
        pr->u.value = JS_AtomToString(ctx, name);
        return;
    }
    /* ES6 feature non compatible with ES5.1: length is configurable */
    JS_DefinePropertyValue(ctx, func_obj, JS_ATOM_length, js_int32(len),
                           JS_PROP_CONFIGURABLE);
""")
rep("""    r = JS_NewArray(ctx);
    if (JS_IsException(r))
        goto exception;
    for(j = i = 0; i < len; i++) {
        JSAtom atom = atoms[i].atom;
""", """    r = JS_NewArray(ctx);
    if (JS_IsException(r))
        goto exception;
    /* volley: room for every name at once (filled below) */
    if (len > 0 && expand_fast_array(ctx, JS_VALUE_GET_OBJ(r), len))
        goto exception;
    for(j = i = 0; i < len; i++) {
        JSAtom atom = atoms[i].atom;
""")
rep("""            if (JS_CreateDataPropertyUint32(ctx, val, 1, value, JS_PROP_THROW) < 0)
                goto exception1;
            break;
        }
        if (JS_CreateDataPropertyUint32(ctx, r, j++, val, 0) < 0)
            goto exception;
""", """            if (JS_CreateDataPropertyUint32(ctx, val, 1, value, JS_PROP_THROW) < 0)
                goto exception1;
            break;
        }
        /* volley: appended to the new array as JS_CreateDataPropertyUint32
           would end up doing, without the generic define's conversions
           and checks */
        if (likely(JS_VALUE_GET_OBJ(r)->fast_array &&
                   j == JS_VALUE_GET_OBJ(r)->u.array.count)) {
            j++;
            if (add_fast_array_element(ctx, JS_VALUE_GET_OBJ(r), val, 0) < 0)
                goto exception;
            continue;
        }
        if (JS_CreateDataPropertyUint32(ctx, r, j++, val, 0) < 0)
            goto exception;
""")
# A new object's field defined from C (the binding's records) added
# directly too, by a function of its own (JS_DefinePropertyValue is
# inlined into the interpreter: making it larger made every bytecode
# dearer, 792 -> 804 instructions a loop turn).
rep("""int JS_DefinePropertyValueValue(JSContext *ctx, JSValueConst this_obj,
                                JSValue prop, JSValue val, int flags)
{
""", """/* volley: `this_obj[prop]` defined as `val` (taken over), enumerable,
   writable and configurable, for a field of an object made just now (the
   binding's records and tagged values): a data property an ordinary
   extensible object lacks is added directly, as JS_DefineProperty would
   end up doing (JS_SetProperty cost about 1,070 instructions a field). */
int JS_DefineNewField(JSContext *ctx, JSValueConst this_obj, JSAtom prop,
                      JSValue val)
{
    if (JS_VALUE_GET_TAG(this_obj) == JS_TAG_OBJECT) {
        JSObject *p = JS_VALUE_GET_OBJ(this_obj);
        JSProperty *pr;
        if (js_ordinary_lacks(p, prop)) {
            pr = add_property(ctx, p, prop, JS_PROP_C_W_E);
            if (unlikely(!pr)) {
                JS_FreeValue(ctx, val);
                return -1;
            }
            pr->u.value = val;
            return true;
        }
    }
    return JS_DefinePropertyValue(ctx, this_obj, prop, val, JS_PROP_C_W_E);
}

int JS_DefinePropertyValueValue(JSContext *ctx, JSValueConst this_obj,
                                JSValue prop, JSValue val, int flags)
{
""")
# An atom of the text, if there is one (none is made): the binding's short
# strings (trivia::short_string) take the atom a literal of the same text
# made, and make a plain string for a text no atom has. A new atom writes
# the atom table, which lies in the snapshot's pages: made by a VU, three
# of those pages became its own.
rep("""static void JS_FreeAtomStruct(JSRuntime *rt, JSAtomStruct *p)
{""", """/* volley: the atom of an ASCII text, duplicated, or JS_ATOM_NULL when no
   atom has that text (none is made). Numeric texts have no string atom. */
JSAtom JS_FindAtomLen(JSContext *ctx, const char *str, size_t len)
{
    if (len != 0 && is_digit(*str))
        return JS_ATOM_NULL;
    return __JS_FindAtom(ctx->rt, str, len, JS_ATOM_TYPE_STRING);
}

static void JS_FreeAtomStruct(JSRuntime *rt, JSAtomStruct *p)
{""")
# The last shapes freed are kept (at most JS_SHAPE_KEEP): an object made
# on every iteration (a params literal, a response, a check's table) found
# no shape of its properties, since the last one died with the last object,
# and built one anew: a clone, a shape change per property, a free (about
# 3% of a k6 request with params). A kept shape is found by the hash as a
# live one is, so the next object takes it.
rep("""struct JSRuntime {
""", """#define JS_SHAPE_KEEP 64 /* volley: freed shapes kept (js_free_shape0) */
#define JS_SHAPE_KEEP_PROPS 32

struct JSRuntime {
""")
rep("""    struct list_head immortal_obj_list; /* GC objects made immortal, never scanned */
""", """    struct list_head immortal_obj_list; /* GC objects made immortal, never scanned */
    /* volley: the last hashed shapes freed, each holding a reference
       (js_free_shape0); a ring, the oldest let go for a new one */
    JSShape *shape_keep[JS_SHAPE_KEEP];
    uint32_t shape_keep_next;
""")
rep("""static void js_free_shape0(JSRuntime *rt, JSShape *sh)
{
    uint32_t i;
    JSShapeProperty *pr;

    assert(JS_REF_COUNT(sh) == 0);
    if (sh->is_hashed)
""", """static void js_free_shape_now(JSRuntime *rt, JSShape *sh);

/* volley: drops the ring's reference to a shape it held, if any */
static void js_shape_keep_drop(JSRuntime *rt, JSShape *old)
{
    if (old && !js_rc_is_immortal(JS_REF_COUNT(old)) && --JS_REF_COUNT(old) <= 0)
        js_free_shape_now(rt, old);
}

/* volley: lets go of the shape in the ring's slot i, if any */
static void js_shape_keep_release(JSRuntime *rt, uint32_t i)
{
    JSShape *old = rt->shape_keep[i];
    rt->shape_keep[i] = NULL;
    js_shape_keep_drop(rt, old);
}

/* volley: a hashed shape no object holds any more is kept by the ring
   (its count back to 1) while the next JS_SHAPE_KEEP shapes freed are not,
   so that the next object with those properties finds it. Only a shape
   whose prototype is immortal (or none): a kept shape holds its
   prototype, and one made in an iteration (a class declared there) may
   hold megabytes through its methods' closures. Only a shape of at most
   JS_SHAPE_KEEP_PROPS properties, so the ring holds a few dozen KiB at
   most. Not while the cycle collector frees a cycle (JS_GC_PHASE_DECREF
   is also the phase of every free of a count dropped to zero), nor once
   the runtime is being freed. */
static void js_free_shape0(JSRuntime *rt, JSShape *sh)
{
    if (sh->is_hashed && sh->prop_count <= JS_SHAPE_KEEP_PROPS
        && (!sh->proto || js_rc_is_immortal(JS_REF_COUNT(sh->proto)))
        && rt->gc_phase != JS_GC_PHASE_REMOVE_CYCLES && !rt->in_free) {
        uint32_t i = rt->shape_keep_next;
        rt->shape_keep_next = (i + 1) % JS_SHAPE_KEEP;
        JS_REF_COUNT(sh) = 1;
        /* released after the slot is reused: freeing the old shape may
           free objects whose shapes come back here */
        JSShape *old = rt->shape_keep[i];
        rt->shape_keep[i] = sh;
        js_shape_keep_drop(rt, old);
        return;
    }
    js_free_shape_now(rt, sh);
}

static void js_free_shape_now(JSRuntime *rt, JSShape *sh)
{
    uint32_t i;
    JSShapeProperty *pr;

    assert(JS_REF_COUNT(sh) == 0);
    if (sh->is_hashed)
""")
rep("""static void js_free_shape(JSRuntime *rt, JSShape *sh);
""", """static void js_free_shape(JSRuntime *rt, JSShape *sh);
static void js_shape_keep_release(JSRuntime *rt, uint32_t i);
""")
rep("""    rt->in_free = true;
    JS_FreeValueRT(rt, rt->current_exception);
""", """    rt->in_free = true;
    for (i = 0; i < JS_SHAPE_KEEP; i++)
        js_shape_keep_release(rt, i);
    JS_FreeValueRT(rt, rt->current_exception);
""")
# A read of `undefined` that no scope declares is the value itself, not a
# lookup on the global object (`get_var`: the global's shape searched,
# about 108 machine instructions; the SDK reads it about 11 times a
# request). The global `undefined` can be neither written nor deleted,
# and this is the fallback after every scope (`with` objects and a sloppy
# eval's variables included) has been searched. `x === undefined` then
# becomes `is_undefined` by the peephole pass, which sees `undefined`.
rep("""    case OP_scope_get_var_undef:
    case OP_scope_get_var:
    case OP_scope_put_var:
        dbuf_putc(bc, OP_get_var_undef + (op - OP_scope_get_var_undef));
""", """    case OP_scope_get_var_undef:
    case OP_scope_get_var:
    case OP_scope_put_var:
        if (op == OP_scope_get_var && var_name == JS_ATOM_undefined) {
            dbuf_putc(bc, OP_undefined); /* volley */
            break;
        }
        dbuf_putc(bc, OP_get_var_undef + (op - OP_scope_get_var_undef));
""")
# UTF-8 in C for the SDK's encoder and decoder (QuickJS has no TextEncoder
# or TextDecoder): the globals `__volley_utf8_encode(text)` (a Uint8Array;
# a lone surrogate as its three bytes, as the SDK's own fallback does) and
# `__volley_utf8_decode(bytes)` (a string; each byte of a bad sequence as
# U+FFFD). In JavaScript a character cost about 25 bytecode instructions:
# 1,517 of the 2,052 an iteration of a k6 POST of a 56-byte JSON body ran.
rep("""int JS_AddIntrinsicBaseObjects(JSContext *ctx)
{""", """/* volley: UTF-8 for the SDK (see immortal.py) */
static JSValue js_volley_utf8_encode(JSContext *ctx, JSValueConst this_val,
                                     int argc, JSValueConst *argv)
{
    size_t len;
    const char *s;
    JSValue out;

    s = JS_ToCStringLen2(ctx, &len, argc > 0 ? argv[0] : JS_UNDEFINED, false);
    if (!s)
        return JS_EXCEPTION;
    out = JS_NewUint8ArrayCopy(ctx, (const uint8_t *)s, len);
    JS_FreeCString(ctx, s);
    return out;
}

static JSValue js_volley_utf8_decode(JSContext *ctx, JSValueConst this_val,
                                     int argc, JSValueConst *argv)
{
    size_t len;
    uint8_t *p;

    p = JS_GetUint8Array(ctx, &len, argc > 0 ? argv[0] : JS_UNDEFINED);
    if (!p)
        return JS_EXCEPTION;
    return JS_NewStringLen(ctx, (const char *)p, len);
}

int JS_AddIntrinsicBaseObjects(JSContext *ctx)
{""")
rep("""    ctx->throw_type_error = JS_NewCFunction(ctx, js_throw_type_error, NULL, 0);
""", """    JS_DefinePropertyValueStr(ctx, ctx->global_obj, "__volley_utf8_encode",
                              JS_NewCFunction(ctx, js_volley_utf8_encode, "__volley_utf8_encode", 1),
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_DefinePropertyValueStr(ctx, ctx->global_obj, "__volley_utf8_decode",
                              JS_NewCFunction(ctx, js_volley_utf8_decode, "__volley_utf8_decode", 1),
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    ctx->throw_type_error = JS_NewCFunction(ctx, js_throw_type_error, NULL, 0);
""")
# JSON.stringify's strings (keys and values): a run of one-byte characters
# that need no escape is copied at once, not read and written a character
# at a time through two calls each (a k6 POST of a 56-byte JSON body:
# about 8,000 instructions in string_getc and string_buffer_putc).
rep("""    if (string_buffer_putc8(b, '\\"'))
        goto fail;
    for(i = 0; i < p->len; ) {
        c = string_getc(p, &i);
        switch(c) {
        case '\\t':""", """    if (string_buffer_putc8(b, '\\"'))
        goto fail;
    for(i = 0; i < p->len; ) {
        if (!p->is_wide_char) { /* volley: a run needing no escape at once */
            const uint8_t *s8 = str8(p);
            int j = i;
            while (j < p->len && s8[j] >= 32 && s8[j] != '\\"' && s8[j] != '\\\\')
                j++;
            if (j > i) {
                if (string_buffer_write8(b, s8 + i, j - i))
                    goto fail;
                i = j;
                continue;
            }
        }
        c = string_getc(p, &i);
        switch(c) {
        case '\\t':""")
# Digests in C for the SDK's k6/crypto, WebCrypto and digest authentication:
# `__volley_digest(name, bytes)` and `__volley_hmac(name, key, bytes)`, name
# 'md5', 'sha1' or 'sha256', each give a Uint8Array. In JavaScript an HMAC-SHA256 of a short text ran 81,876
# bytecode instructions (a 32-bit rotation per call of an arrow function).
# The round constants are computed as the SDK's hash.js computes them, when
# the context is made (so in the build's snapshot, never written by a VU).
rep("""/* volley: UTF-8 for the SDK (see immortal.py) */""", """/* volley: digests for the SDK (see immortal.py) */
static uint32_t vd_k256[64], vd_kmd5[64];

static void vd_constants(void)
{
    int n, found = 0, i;
    for (n = 2; found < 64; n++) {
        for (i = 2; i * i <= n && n % i; i++)
            ;
        if (i * i <= n)
            continue;
        double c = cbrt((double)n);
        vd_k256[found++] = (uint32_t)floor((c - floor(c)) * 4294967296.0);
    }
    for (i = 0; i < 64; i++)
        vd_kmd5[i] = (uint32_t)floor(fabs(sin((double)(i + 1))) * 4294967296.0);
}

#define VD_ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define VD_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t vd_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void vd_sha256_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
    int t;
    for (t = 0; t < 16; t++)
        w[t] = vd_be32(p + 4 * t);
    for (t = 16; t < 64; t++) {
        uint32_t s0 = VD_ROR(w[t - 15], 7) ^ VD_ROR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = VD_ROR(w[t - 2], 17) ^ VD_ROR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (t = 0; t < 64; t++) {
        t1 = hh + (VD_ROR(e, 6) ^ VD_ROR(e, 11) ^ VD_ROR(e, 25)) + ((e & f) ^ (~e & g)) + vd_k256[t] + w[t];
        t2 = (VD_ROR(a, 2) ^ VD_ROR(a, 13) ^ VD_ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void vd_sha1_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t1;
    int t;
    for (t = 0; t < 16; t++)
        w[t] = vd_be32(p + 4 * t);
    for (t = 16; t < 80; t++)
        w[t] = VD_ROL(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
    for (t = 0; t < 80; t++) {
        if (t < 20) {
            f = (b & c) | (~b & d); k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d; k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d; k = 0xca62c1d6;
        }
        t1 = VD_ROL(a, 5) + f + e + k + w[t];
        e = d; d = c; c = VD_ROL(b, 30); b = a; a = t1;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static void vd_md5_block(uint32_t *h, const uint8_t *p)
{
    static const uint8_t s[16] = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 };
    uint32_t m[16], a, b, c, d, f, tmp;
    int t, g;
    for (t = 0; t < 16; t++)
        m[t] = p[4 * t] | ((uint32_t)p[4 * t + 1] << 8) | ((uint32_t)p[4 * t + 2] << 16) | ((uint32_t)p[4 * t + 3] << 24);
    a = h[0]; b = h[1]; c = h[2]; d = h[3];
    for (t = 0; t < 64; t++) {
        if (t < 16) {
            f = (b & c) | (~b & d); g = t;
        } else if (t < 32) {
            f = (d & b) | (~d & c); g = (5 * t + 1) % 16;
        } else if (t < 48) {
            f = b ^ c ^ d; g = (3 * t + 5) % 16;
        } else {
            f = c ^ (b | ~d); g = (7 * t) % 16;
        }
        tmp = d; d = c; c = b;
        b = b + VD_ROL(a + f + vd_kmd5[t] + m[g], s[(t >> 4) * 4 + (t & 3)]);
        a = tmp;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
}

/* Merkle-Damgard: every whole block, then the rest with 0x80, zeros and
   the length in bits (big-endian, or little for MD5) in one or two more. */
static void vd_run(uint32_t *h, const uint8_t *p, size_t len,
                   void (*block)(uint32_t *, const uint8_t *), int little)
{
    uint8_t tail[128];
    uint64_t bits = (uint64_t)len * 8;
    size_t i, rest, n;
    int k;
    for (i = 0; i + 64 <= len; i += 64)
        block(h, p + i);
    rest = len - i;
    if (rest)
        memcpy(tail, p + i, rest);
    tail[rest] = 0x80;
    n = rest <= 55 ? 64 : 128;
    memset(tail + rest + 1, 0, n - rest - 1);
    for (k = 0; k < 8; k++)
        tail[n - 8 + k] = little ? (uint8_t)(bits >> (8 * k)) : (uint8_t)(bits >> (56 - 8 * k));
    block(h, tail);
    if (n == 128)
        block(h, tail + 64);
}

static const uint32_t vd_iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
static const uint32_t vd_iv1[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };

typedef struct {
    void (*block)(uint32_t *, const uint8_t *);
    const uint32_t *iv;
    int words, little;
} VdAlgo;

/* The algorithm `name` names (each with 64-byte blocks), or NULL with a
   TypeError thrown. */
static const VdAlgo *vd_algo(JSContext *ctx, JSValueConst name)
{
    static const VdAlgo sha256 = { vd_sha256_block, vd_iv, 8, 0 };
    static const VdAlgo sha1 = { vd_sha1_block, vd_iv1, 5, 0 };
    static const VdAlgo md5 = { vd_md5_block, vd_iv1, 4, 1 };
    const VdAlgo *a = NULL;
    const char *s = JS_ToCString(ctx, name);
    if (!s)
        return NULL;
    if (!strcmp(s, "sha256"))
        a = &sha256;
    else if (!strcmp(s, "sha1"))
        a = &sha1;
    else if (!strcmp(s, "md5"))
        a = &md5;
    JS_FreeCString(ctx, s);
    if (!a)
        JS_ThrowTypeError(ctx, "volley's digests: md5, sha1 or sha256");
    return a;
}

/* The digest of p[0..len) into out (at most 32 bytes); its length. */
static int vd_digest(const VdAlgo *a, const uint8_t *p, size_t len, uint8_t *out)
{
    uint32_t h[8];
    int i;
    memcpy(h, a->iv, a->words * sizeof(uint32_t));
    vd_run(h, p, len, a->block, a->little);
    for (i = 0; i < a->words * 4; i++)
        out[i] = a->little ? (uint8_t)(h[i / 4] >> (8 * (i % 4))) : (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
    return a->words * 4;
}

static JSValue js_volley_digest(JSContext *ctx, JSValueConst this_val,
                                int argc, JSValueConst *argv)
{
    const VdAlgo *a;
    uint8_t out[32], *p;
    size_t len;

    a = vd_algo(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
    if (!a)
        return JS_EXCEPTION;
    p = JS_GetUint8Array(ctx, &len, argc > 1 ? argv[1] : JS_UNDEFINED);
    if (!p)
        return JS_EXCEPTION;
    return JS_NewUint8ArrayCopy(ctx, out, vd_digest(a, p, len, out));
}

/* HMAC (RFC 2104) of msg under key: a key longer than the 64-byte block is
   hashed first. */
static JSValue js_volley_hmac(JSContext *ctx, JSValueConst this_val,
                              int argc, JSValueConst *argv)
{
    const VdAlgo *a;
    uint8_t k[64], inner[32], out[32], outer[64 + 32], *key, *msg, *buf;
    size_t klen, mlen;
    int i, n;

    a = vd_algo(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
    if (!a)
        return JS_EXCEPTION;
    key = JS_GetUint8Array(ctx, &klen, argc > 1 ? argv[1] : JS_UNDEFINED);
    if (!key)
        return JS_EXCEPTION;
    msg = JS_GetUint8Array(ctx, &mlen, argc > 2 ? argv[2] : JS_UNDEFINED);
    if (!msg)
        return JS_EXCEPTION;
    memset(k, 0, sizeof(k));
    if (klen > 64)
        vd_digest(a, key, klen, k);
    else
        memcpy(k, key, klen);
    buf = js_malloc(ctx, 64 + mlen);
    if (!buf)
        return JS_EXCEPTION;
    for (i = 0; i < 64; i++)
        buf[i] = k[i] ^ 0x36;
    memcpy(buf + 64, msg, mlen);
    n = vd_digest(a, buf, 64 + mlen, inner);
    js_free(ctx, buf);
    for (i = 0; i < 64; i++)
        outer[i] = k[i] ^ 0x5c;
    memcpy(outer + 64, inner, n);
    return JS_NewUint8ArrayCopy(ctx, out, vd_digest(a, outer, 64 + n, out));
}

/* volley: UTF-8 for the SDK (see immortal.py) */""")
rep("""    JS_DefinePropertyValueStr(ctx, ctx->global_obj, "__volley_utf8_encode",""", """    vd_constants();
    JS_DefinePropertyValueStr(ctx, ctx->global_obj, "__volley_digest",
                              JS_NewCFunction(ctx, js_volley_digest, "__volley_digest", 2),
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_DefinePropertyValueStr(ctx, ctx->global_obj, "__volley_hmac",
                              JS_NewCFunction(ctx, js_volley_hmac, "__volley_hmac", 3),
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_DefinePropertyValueStr(ctx, ctx->global_obj, "__volley_utf8_encode",""")
open(p, 'w').write(s)
h = root + '/quickjs/quickjs.h'
t = open(h).read()
old = "JS_EXTERN void JS_RunGC(JSRuntime *rt);\n"
assert t.count(old) == 1
t = t.replace(old, old + "/* volley: make every value alive now immortal; stop reusing the\n   arenas' current free blocks (see quickjs.c) */\nJS_EXTERN void JS_MakeImmortal(JSRuntime *rt);\nJS_EXTERN void JS_SealArenas(JSRuntime *rt);\n/* volley: a new object's field (see quickjs.c) */\nJS_EXTERN int JS_DefineNewField(JSContext *ctx, JSValueConst this_obj, JSAtom prop, JSValue val);\n/* volley: an ASCII text's atom if one exists, none made (see quickjs.c) */\nJS_EXTERN JSAtom JS_FindAtomLen(JSContext *ctx, const char *str, size_t len);\n")
open(h, 'w').write(t)
print("substitutions:", n)
