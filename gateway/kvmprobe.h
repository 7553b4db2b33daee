/* sg_kvm: does KVM really run ordinary guests here?
 *
 * /dev/kvm can exist and open fine while guests under it hang or crawl
 * (some nested or emulated set-ups run guest code a thousand times slower
 * than the host). So the probe boots a tiny guest: a 512-byte boot sector
 * that waits for two BIOS timer ticks (interrupts work), switches to 64-bit
 * long mode with paging (what every Linux kernel does first), counts a
 * 64-bit register down from 2^26 (a few tens of milliseconds on real KVM,
 * a few hundred under TCG, minutes on a broken KVM) and writes 0x31 to
 * QEMU's isa-debug-exit port, which makes QEMU exit with status
 * (0x31 << 1) | 1 = 99. The guest counts as running only when that status
 * comes back within the time limit.
 *
 * The probe forks qemu-system-x86_64 (found in PATH) and waits for it with
 * waitpid() on its pid: the caller must not reap arbitrary children
 * (waitpid(-1)) meanwhile. */
#ifndef SG_KVMPROBE_H
#define SG_KVMPROBE_H

/* Exit status QEMU reports when the probe guest finishes. */
#define SG_KVM_PROBE_EXIT 99

/* Returns 1 when /dev/kvm opens read-write and the probe guest finishes
 * under -accel kvm within timeout_ms; 0 when KVM is not usable, with
 * *ret_reason (caller frees; NULL when out of memory) saying why in one
 * line; a negative errno when the probe itself could not run (no temporary
 * file, fork failed). ret_reason may be NULL. */
int sg_kvm_usable(int timeout_ms, char **ret_reason);

/* Runs the probe guest under -accel accel ("kvm", "tcg") with the same
 * results as sg_kvm_usable() but without looking at /dev/kvm. Tests run
 * it with "tcg" to show that the guest itself is sound. */
int sg_kvm_probe_accel(const char *accel, int timeout_ms, char **ret_reason);

#endif
