//! Facts about this process and its host: the host name, the open files limit and the
//! descriptors open, the CPUs it may run on, the CPU time it used, its resident memory.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::errno::check;

/// The host's name as the kernel reports it now (the UTS name of our namespace).
pub fn hostname() -> io::Result<Vec<u8>> {
    // HOST_NAME_MAX is 64 on Linux; the extra room keeps the name NUL-terminated.
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    check(unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) })?;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(buf[..len].to_vec())
}

/// Raises the soft limit on open files to the hard limit (as Go's runtime does), so the default
/// soft limit of 1024 does not cap `--max-connections`. Returns the limit now in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = open_files_limits()?;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; lowering nothing, raising only up to the hard limit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) })?;
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// The soft limit on open files now in force.
pub fn open_files_limit() -> io::Result<u64> {
    Ok(open_files_limits()?.rlim_cur)
}

fn open_files_limits() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    Ok(limit)
}

/// How many CPUs this process may run on: its affinity mask (`taskset`, `docker run
/// --cpuset-cpus`), as nginx's `worker_processes auto` counts them. A CPU quota (`docker run
/// --cpus`) limits time, not CPUs, and does not lower it. (std's `available_parallelism` also
/// reads cgroup quotas, at the cost of about 15 KB of parsing code in the binary.)
pub fn available_cpus() -> io::Result<usize> {
    let mut set = MaybeUninit::<libc::cpu_set_t>::zeroed();
    // SAFETY: the pointer and size describe `set`, a cpu_set_t the kernel fills; pid 0 is the
    // calling thread, whose mask the threads it starts inherit.
    check(unsafe {
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set.as_mut_ptr())
    })?;
    // SAFETY: sched_getaffinity succeeded, so `set` is initialised (zeroed before in any case).
    let set = unsafe { set.assume_init() };
    // SAFETY: CPU_COUNT only reads the set it is given.
    let count = unsafe { libc::CPU_COUNT(&set) };
    Ok(usize::try_from(count).unwrap_or(1).max(1))
}

/// The CPU time this process has used, user and system.
pub fn cpu_time() -> io::Result<Duration> {
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a buffer of the right type for the kernel to fill.
    check(unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) })?;
    // SAFETY: getrusage succeeded, so it filled `usage` (zeroed before in any case).
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Ok(time(usage.ru_utime) + time(usage.ru_stime))
}

/// The size of a memory page in bytes (to turn /proc's page counts into bytes).
pub fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // Every Linux system answers; 4 KiB is the usual size if one did not (-1).
    u64::try_from(size).unwrap_or(4096)
}

/// The memory this process holds resident, in bytes: the second field of /proc/self/statm
/// (resident pages) times the page size.
pub fn resident_memory_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "/proc/self/statm has no count of resident pages",
            )
        })?;
    Ok(pages * page_size())
}

/// How many file descriptors this process has open: the entries of /proc/self/fd.
pub fn open_descriptors() -> io::Result<usize> {
    let entries = std::fs::read_dir("/proc/self/fd")?;
    // The listing's own descriptor is open while it is read: not one of ours.
    Ok(entries.count().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_cpus_are_those_of_the_affinity_mask() {
        let cpus = available_cpus().unwrap();
        // A CPU list, "0-1" or "0,2-3": how many CPUs it names.
        let count = |list: &str| -> usize {
            list.trim()
                .split(',')
                .map(|range| match range.split_once('-') {
                    Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
                    None => 1,
                })
                .sum()
        };
        // The affinity mask is at most the CPUs online.
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
        let most = count(&online);
        assert!((1..=most).contains(&cpus), "{cpus} of {most}");
        // Exactly those the kernel lists for this thread.
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let allowed = status
            .lines()
            .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
            .unwrap();
        assert_eq!(cpus, count(allowed), "{allowed}");
    }

    #[test]
    fn cpu_time_is_the_time_of_every_thread_user_and_system() {
        let process_clock = || {
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `now` is a valid timespec for the kernel to fill.
            check(unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) })
                .unwrap();
            Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
        };
        // System time enough (reading /proc is the kernel's work) that user minus system
        // would be told from user plus system.
        let system_time = || {
            let mut usage = MaybeUninit::<libc::rusage>::zeroed();
            // SAFETY: `usage` is a buffer of the right type for the kernel to fill.
            check(unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) }).unwrap();
            // SAFETY: getrusage succeeded, so it filled `usage`.
            let stime = unsafe { usage.assume_init() }.ru_stime;
            Duration::from_micros(stime.tv_sec as u64 * 1_000_000 + stime.tv_usec as u64)
        };
        for _ in 0..1000 {
            if system_time() >= Duration::from_millis(20) {
                break;
            }
            for _ in 0..100 {
                std::fs::read_to_string("/proc/self/status").unwrap();
            }
        }
        let before = process_clock();
        let time = cpu_time().unwrap();
        let after = process_clock();
        // getrusage rounds each part down to a microsecond, and may lag the clock a little.
        let slack = Duration::from_millis(2);
        assert!(
            before <= time + slack && time <= after + slack,
            "{time:?}, the clock {before:?} to {after:?}"
        );
    }

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        let hard = open_files_limits().unwrap().rlim_max;
        // Lowered by one first (a process may always lower its soft limit), so that there is
        // something to raise.
        let lowered = libc::rlimit {
            rlim_cur: hard - 1,
            rlim_max: hard,
        };
        // SAFETY: `lowered` is a valid rlimit, under the hard limit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }).unwrap();
        assert_eq!(open_files_limit().unwrap(), hard - 1);
        assert_eq!(raise_open_files_limit().unwrap(), hard);
        assert_eq!(open_files_limit().unwrap(), hard);
        // At the hard limit already: nothing to do, the same answer.
        assert_eq!(raise_open_files_limit().unwrap(), hard);
    }

    #[test]
    fn resident_memory_and_open_descriptors_are_the_kernels() {
        // /proc/self/status says the same resident memory in KiB (read a moment apart: within
        // a factor of two, as memory comes and goes with the other tests).
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().strip_suffix(" kB"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let bytes = resident_memory_bytes().unwrap();
        assert!(
            bytes / 2 < kib * 1024 && kib * 1024 < bytes * 2,
            "{bytes} bytes, VmRSS {kib} kB"
        );
        assert!(page_size() >= 4096 && page_size().is_power_of_two());
        // At least standard input, output and error.
        let open = open_descriptors().unwrap();
        assert!(
            open >= 3 && open as u64 <= open_files_limit().unwrap(),
            "{open}"
        );
    }
}
