"""Fixes applied to QuickFIX 1.16.0's C++ sources before the wheel is built.

QuickFIX 1.16's threaded socket connections close their socket *number* while their
own thread (or a stopping thread) may still poll, read or write it. The number is then
free for the next socket opened anywhere in the process, and the old connection's
thread reads that socket's bytes: in this project a Logon sent right after a Logout
was seen consumed by the previous connection's thread, and a session stayed
"registered" (every new Logon refused) while that thread polled a reused, idle number.

The fix keeps each socket number owned by its connection until the connection is
destroyed on its own thread: disconnecting shuts the socket down (which wakes the
reader) instead of closing it, the reader stops once disconnected, and the
destructor closes the socket. A partial send also resent from the wrong offset.

Each edit states the exact text it replaces; if an upstream release changes that
text the build stops instead of building something half-patched.

    python tools/quickfix/patch_sources.py /path/to/quickfix-1.16.0
"""
from __future__ import annotations

import sys
from pathlib import Path

PATCH_LEVEL = "rfq1"  # the wheel's local version label: quickfix 1.16.0+rfq1

SHUTDOWN_HELPER = """
#ifdef _MSC_VER
#define FIX_SOCKET_SHUTDOWN(s) shutdown(s, SD_BOTH)
#else
#include <sys/socket.h>
#define FIX_SOCKET_SHUTDOWN(s) shutdown(s, SHUT_RDWR)
#endif
"""

EDITS: list[tuple[str, str, str]] = [
    ("C++/ThreadedSocketConnection.cpp",
     '#include "ThreadedSocketConnection.h"\n',
     '#include "ThreadedSocketConnection.h"\n' + SHUTDOWN_HELPER),
    ("C++/ThreadedSocketConnection.cpp",
     """    Session::unregisterSession(m_pSession->getSessionID());
  }
}
""",
     """    Session::unregisterSession(m_pSession->getSessionID());
  }
  // rfq patch: the socket number stays this connection's until now, so no other socket can take it
  // while this connection's thread may still poll, read or write it.
  socket_close(m_socket);
}
"""),
    ("C++/ThreadedSocketConnection.cpp",
     "    ssize_t sent = socket_send(m_socket, msg.c_str() + totalSent, msg.length());",
     "    ssize_t sent = socket_send(m_socket, msg.c_str() + totalSent, msg.length() - totalSent);"),
    ("C++/ThreadedSocketConnection.cpp",
     """void ThreadedSocketConnection::disconnect() {
  m_disconnect = true;
  socket_close(m_socket);
}
""",
     """void ThreadedSocketConnection::disconnect() {
  m_disconnect = true;
  FIX_SOCKET_SHUTDOWN(m_socket); // rfq patch: wakes the reader; the destructor closes the socket
}
"""),
    ("C++/ThreadedSocketConnection.cpp",
     """bool ThreadedSocketConnection::read() {
""",
     """bool ThreadedSocketConnection::read() {
  if (m_disconnect) {
    return false; // rfq patch: never poll a socket this connection has given up
  }
"""),
    ("C++/ThreadedSocketAcceptor.cpp",
     """  for (i = threads.begin(); i != threads.end(); ++i) {
    socket_close(i->first);
  }""",
     """  for (i = threads.begin(); i != threads.end(); ++i) {
    FIX_SOCKET_SHUTDOWN(i->first); // rfq patch: the connection's own thread closes it
  }"""),
    ("C++/ThreadedSocketAcceptor.cpp",
     '#include "ThreadedSocketAcceptor.h"\n',
     '#include "ThreadedSocketAcceptor.h"\n' + SHUTDOWN_HELPER),
    ("C++/ThreadedSocketInitiator.cpp",
     """  for (i = threads.begin(); i != threads.end(); ++i) {
    socket_close(i->first);
  }""",
     """  for (i = threads.begin(); i != threads.end(); ++i) {
    FIX_SOCKET_SHUTDOWN(i->first); // rfq patch: the connection's own thread closes it
  }"""),
    ("C++/ThreadedSocketInitiator.cpp",
     '#include "ThreadedSocketInitiator.h"\n',
     '#include "ThreadedSocketInitiator.h"\n' + SHUTDOWN_HELPER),
    ("setup.cfg", "version = 1.16.0\n", f"version = 1.16.0+{PATCH_LEVEL}\n"),
]


def apply(source_root: Path) -> None:
    for relative, old, new in EDITS:
        path = source_root / relative
        text = path.read_text()
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"{relative}: expected the text to patch exactly once, found it {count} times:\n{old}")
        path.write_text(text.replace(old, new))
    print(f"patched QuickFIX sources in {source_root} ({len(EDITS)} edits, level {PATCH_LEVEL})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    apply(Path(sys.argv[1]))
