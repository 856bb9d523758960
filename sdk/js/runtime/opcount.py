# A profiling variant of volley's QuickJS runtime (never the committed one):
# the interpreter counts the bytecode instructions it runs, per line of
# each JavaScript function, and the global `__volley_opcounts(reset)`
# returns them as text, one line of source a line ("<count> <function>
# <file>:<line> <the function's first line>", most first), then
# zeroes them when `reset` is true. `bench/opcodes.sh` builds a runtime with
# it and prints what one iteration of a script runs, by function and line.
# Usage: python3 opcount.py <rquickjs-sys-0.13.0 folder>, after immortal.py
# (build.sh does it when OPCOUNT=1).
import sys
p = sys.argv[1] + '/quickjs/quickjs.c'
s = open(p).read()


def rep(old, new):
    global s
    assert s.count(old) == 1, old
    s = s.replace(old, new)


# Each instruction the interpreter dispatches, counted for its function.
rep("""#if !DIRECT_DISPATCH
#define SWITCH(pc)      DUMP_BYTECODE_OR_DONT(pc) switch (opcode = *pc++)""",
    """#if !DIRECT_DISPATCH
#define SWITCH(pc)      volley_opcount(ctx, b, pc); switch (opcode = *pc++)""")

rep("""/* argv[] is modified if (flags & JS_CALL_FLAG_COPY_ARGV) = 0. */
static JSValue JS_CallInternal(""", """/* volley's instruction counts, per line of each function (opcount.py).
   A function is known by its bytecode's address, which a function freed
   and another made may share: good enough to profile a script whose
   functions live on. */
#define VOLLEY_OPCOUNT_SLOTS 4096
static struct { JSFunctionBytecode *b; int line; uint64_t ops; } volley_opcounts[VOLLEY_OPCOUNT_SLOTS];

static void volley_opcount(JSContext *ctx, JSFunctionBytecode *b, const uint8_t *pc)
{
    int col;
    int line = find_line_num(ctx, b, pc - b->byte_code_buf, &col);
    uintptr_t h = (((uintptr_t)b >> 3) ^ ((uintptr_t)line << 16)) * 2654435761u;
    for (int i = 0; i < VOLLEY_OPCOUNT_SLOTS; i++) {
        uintptr_t k = (h + i) % VOLLEY_OPCOUNT_SLOTS;
        if (volley_opcounts[k].b == b && volley_opcounts[k].line == line) {
            volley_opcounts[k].ops++;
            return;
        }
        if (volley_opcounts[k].b == NULL) {
            volley_opcounts[k].b = b;
            volley_opcounts[k].line = line;
            volley_opcounts[k].ops = 1;
            return;
        }
    }
}

static int volley_opcount_cmp(const void *a, const void *b)
{
    uint64_t x = ((const typeof(volley_opcounts[0]) *)a)->ops;
    uint64_t y = ((const typeof(volley_opcounts[0]) *)b)->ops;
    return x < y ? 1 : x > y ? -1 : 0;
}

static JSValue js_volley_opcounts(JSContext *ctx, JSValueConst this_val,
                                  int argc, JSValueConst *argv)
{
    static typeof(volley_opcounts[0]) sorted[VOLLEY_OPCOUNT_SLOTS];
    int n = 0;
    for (int i = 0; i < VOLLEY_OPCOUNT_SLOTS; i++)
        if (volley_opcounts[i].b && volley_opcounts[i].ops)
            sorted[n++] = volley_opcounts[i];
    qsort(sorted, n, sizeof(sorted[0]), volley_opcount_cmp);
    DynBuf d;
    dbuf_init(&d);
    char name[64], file[128];
    for (int i = 0; i < n; i++) {
        JSFunctionBytecode *b = sorted[i].b;
        dbuf_printf(&d, "%llu %s %s:%d %d\\n", (unsigned long long)sorted[i].ops,
                    JS_AtomGetStr(ctx, name, sizeof(name), b->func_name),
                    JS_AtomGetStr(ctx, file, sizeof(file), b->filename), sorted[i].line,
                    b->line_num);
    }
    JSValue out = JS_NewStringLen(ctx, (const char *)d.buf, d.size);
    dbuf_free(&d);
    if (argc > 0 && JS_ToBool(ctx, argv[0]))
        for (int i = 0; i < VOLLEY_OPCOUNT_SLOTS; i++)
            volley_opcounts[i].ops = 0;
    return out;
}

/* argv[] is modified if (flags & JS_CALL_FLAG_COPY_ARGV) = 0. */
static JSValue JS_CallInternal(""")

rep("""int JS_AddIntrinsicBaseObjects(JSContext *ctx)
{
    JSValue obj1, obj2;
    JSCFunctionType ft;
""", """int JS_AddIntrinsicBaseObjects(JSContext *ctx)
{
    JSValue obj1, obj2;
    JSCFunctionType ft;

    JS_SetPropertyStr(ctx, ctx->global_obj, "__volley_opcounts",
                      JS_NewCFunction(ctx, js_volley_opcounts, "__volley_opcounts", 1));
""")

open(p, 'w').write(s)
print('opcount.py: the interpreter counts its instructions per function (__volley_opcounts)')
