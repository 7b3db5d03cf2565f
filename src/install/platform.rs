//! What `install` needs from the kernel that only Linux has: mounting a RAM file system,
//! telling one from a disk, and opening one path component with `openat2`. Everything else in
//! hostseal, and every workstation command, is portable. On other systems mounting is
//! unsupported (the nix-darwin module makes a RAM disk instead, docs/nixos.md) and components
//! are opened with `O_NOFOLLOW`. Only the Linux side is built and tested on Linux; the other is
//! type-checked (`cargo check --target aarch64-apple-darwin`).

use nix::sys::stat::{FileStat, Mode};

pub use imp::{fd_path, is_ram_fs, mount_ram, open_no_symlinks, EXEC_OPEN_FLAGS};

/// `bits` as a `Mode` (`mode_t` is 32 bits on Linux, 16 on macOS).
#[allow(clippy::useless_conversion)]
pub fn mode(bits: u32) -> Mode {
    Mode::from_bits_truncate(bits.try_into().unwrap_or_default())
}

/// The mode bits of `st` as `u32`, whatever the width of `mode_t`.
#[allow(clippy::useless_conversion)]
pub fn mode_bits(st: &FileStat) -> u32 {
    u32::from(st.st_mode)
}

#[cfg(target_os = "linux")]
mod imp {
    use nix::errno::Errno;
    use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
    use nix::mount::{mount, MsFlags};
    use nix::sys::stat::Mode;
    use nix::sys::statfs::{fstatfs, TMPFS_MAGIC};
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::path::Path;

    /// How an executable is held open between its check and its run: `O_PATH`, without
    /// close-on-exec, so a script's interpreter can open it in the child.
    pub const EXEC_OPEN_FLAGS: OFlag = OFlag::O_PATH;

    /// The path that opens (or executes) what `fd` refers to.
    pub fn fd_path(fd: std::os::fd::RawFd) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/proc/self/fd/{fd}"))
    }

    /// ramfs's `f_type` (not exported by the `nix` crate).
    const RAMFS_MAGIC: i64 = 0x8584_58f6;

    /// Whether the file system of `fd` is ramfs or tmpfs. `f_type` is i64 on x86_64 glibc, u64
    /// on musl and narrower elsewhere: compare the low 32 bits.
    #[allow(clippy::unnecessary_cast)]
    pub fn is_ram_fs(fd: &OwnedFd) -> bool {
        fstatfs(fd).is_ok_and(|s| {
            let t = s.filesystem_type();
            t == TMPFS_MAGIC || (t.0 as u64 & 0xffff_ffff) == RAMFS_MAGIC as u64
        })
    }

    /// Mounts ramfs (or tmpfs, without swap where the kernel knows `noswap`) at `target`,
    /// `nodev,nosuid,noexec`, mode 0751.
    pub fn mount_ram(target: &Path, tmpfs: bool) -> Result<(), Errno> {
        let flags = MsFlags::MS_NODEV | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
        let fs = if tmpfs { "tmpfs" } else { "ramfs" };
        let first = if tmpfs {
            "mode=0751,noswap"
        } else {
            "mode=0751"
        };
        mount(Some(fs), target, Some(fs), flags, Some(first)).or_else(|e| {
            if tmpfs {
                mount(Some(fs), target, Some(fs), flags, Some("mode=0751"))
            } else {
                Err(e)
            }
        })
    }

    /// Opens `comp` in `dir` without following a symlink: `openat2(RESOLVE_NO_SYMLINKS |
    /// RESOLVE_BENEATH)` where the kernel has it, `openat(O_NOFOLLOW)` otherwise.
    pub fn open_no_symlinks(dir: BorrowedFd<'_>, comp: &str, flags: OFlag) -> nix::Result<OwnedFd> {
        let flags = flags | OFlag::O_NOFOLLOW;
        let how = OpenHow::new()
            .flags(flags)
            .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_BENEATH);
        match openat2(dir, comp, how) {
            Err(Errno::ENOSYS) => openat(dir, comp, flags, Mode::empty()),
            r => r,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use nix::errno::Errno;
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;
    use std::os::fd::{BorrowedFd, OwnedFd};
    use std::path::Path;

    /// No `O_PATH` here: read-only, without close-on-exec.
    pub const EXEC_OPEN_FLAGS: OFlag = OFlag::O_RDONLY;

    /// The path that opens (or executes) what `fd` refers to.
    pub fn fd_path(fd: std::os::fd::RawFd) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/dev/fd/{fd}"))
    }

    /// Unknown here: no RAM file system is recognised (`--no-mount --allow-disk` on a RAM disk).
    pub fn is_ram_fs(_fd: &OwnedFd) -> bool {
        false
    }

    /// Mounting is Linux-only.
    pub fn mount_ram(_target: &Path, _tmpfs: bool) -> Result<(), Errno> {
        Err(Errno::ENOSYS)
    }

    /// `openat(O_NOFOLLOW)`.
    pub fn open_no_symlinks(dir: BorrowedFd<'_>, comp: &str, flags: OFlag) -> nix::Result<OwnedFd> {
        openat(dir, comp, flags | OFlag::O_NOFOLLOW, Mode::empty())
    }
}
