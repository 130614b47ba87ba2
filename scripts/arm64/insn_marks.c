/* QEMU TCG plugin (API v1, Debian 12's QEMU 7.2): counts guest instructions and prints the running
 * total at every marker the guest program sets, so one process can measure several segments.
 * Marker: the guest calls lseek(-4242, 0, 0) (Python: os.lseek(-4242, 0, 0), which fails with
 * EBADF and changes nothing); the plugin then prints "MARK <count>" to stderr. At exit it prints
 * "INSNS <count>". With the argument "profile=FILE" it also writes, at each marker, the
 * instruction count of every translated block (guest address, count) to FILE.<marker number>.
 * Counts are not atomic across threads: measure with one thread. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct { int dummy; } qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*udata_cb)(qemu_plugin_id_t, void *);
typedef void (*syscall_cb)(qemu_plugin_id_t, unsigned int, int64_t, uint64_t, uint64_t, uint64_t,
                           uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb);
extern void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op, void *, uint64_t);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
extern uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, udata_cb, void *);
extern void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t, syscall_cb);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define AARCH64_LSEEK 62
#define MARK_FD ((uint64_t)(int64_t)-4242)

typedef struct Block { uint64_t vaddr; uint64_t count; struct Block *next; } Block;
static uint64_t total;
static Block *blocks;
static const char *profile_path;
static int marks;

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    if (profile_path) {
        Block *b = calloc(1, sizeof(Block));
        b->vaddr = qemu_plugin_tb_vaddr(tb);
        b->next = blocks;
        blocks = b;
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, n);
    }
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8) {
    if (num != AARCH64_LSEEK || a1 != MARK_FD) return;
    marks++;
    fprintf(stderr, "MARK %" PRIu64 "\n", total);
    if (!profile_path) return;
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", profile_path, marks);
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (Block *b = blocks; b; b = b->next)
        if (b->count) fprintf(f, "%" PRIx64 " %" PRIu64 "\n", b->vaddr, b->count);
    fclose(f);
}

static void at_exit(qemu_plugin_id_t id, void *p) { fprintf(stderr, "INSNS %" PRIu64 "\n", total); }

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "profile=", 8) == 0) profile_path = argv[i] + 8;
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
