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

The FileStore keeps the file offset of every message it stored since the last sequence
reset in memory (a std::map node, about 64 bytes per message): a gateway sending ten
messages per RFQ grows by ~0.9 MB per 1,000 RFQs until the day's reset (measured with
`rfq-gateway bench --rfqs 20000`: 1.26 MB per 1,000 RFQs with the store, 0.40 without).
rfq2 adds QuickFIX/J's session setting FileStoreMaxCachedMsgs: only that many of the
newest offsets stay in memory; a resend of older messages reads them from the store's
header file (one pass per resend range). Without the setting nothing changes.

rfq3 keeps the GIL in the SWIG wrappers of messages, field maps, groups, fields and session
ids. SWIG releases and retakes the GIL around every wrapped call; while another Python thread
runs, each `getField` or `setField` then waits for the GIL again (measured: 2.8 us per call
alone, 308 us with one busy thread beside it), so a gateway whose engine thread renders
replies while QuickFIX's threads decode messages spent more time handing the GIL over than
working (under overload 38% of its CPU was in the kernel, switching threads). These calls
neither block nor take a lock nor call back into Python, so holding the GIL through them is
safe; Session, acceptor, initiator, store and log calls still release it (sendToTarget takes
the session's mutex, which a thread waiting for the GIL in a callback may hold). It also stores
a logout's reason before disabling the session: the other order let the session's thread send
the Logout without its Text.

Each edit states the exact text it replaces; if an upstream release changes that
text the build stops instead of building something half-patched.

    python tools/quickfix/patch_sources.py /path/to/quickfix-1.16.0
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

PATCH_LEVEL = "rfq3"  # the wheel's local version label: quickfix 1.16.0+rfq3

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
    ("C++/FileStore.h", '  MemoryStore m_cache;\n  NumToOffset m_offsets;\n', '  MemoryStore m_cache;\n  NumToOffset m_offsets;\n  // rfq patch: FileStoreMaxCachedMsgs (0: every offset in memory); offsets of messages up to\n  // m_evictedThrough may be only in the header file.\n  std::size_t m_maxCachedMsgs = 0;\n  SEQNUM m_evictedThrough = 0;\n  void remember(SEQNUM msgSeqNum, int64_t offset, std::size_t size);\n  void trim();\n  void readHeader(SEQNUM begin, SEQNUM end, NumToOffset &found) const;\n  bool readMessage(const OffsetSize &offset, std::string &msg) const;\n\npublic:\n  void setMaxCachedMsgs(std::size_t maxCachedMsgs) {\n    m_maxCachedMsgs = maxCachedMsgs;\n    trim();\n  }\n\nprivate:\n'),
    ("C++/FileStore.cpp",
     """      std::pair<NumToOffset::iterator, bool> it
          = m_offsets.insert(NumToOffset::value_type(msgSeqNum, std::make_pair(offset, size)));

      if (it.second == false) {
        it.first->second = std::make_pair(offset, size);
      }
    }
    fclose(headerFile);""",
     """      remember(msgSeqNum, offset, size); // rfq patch: bounded by FileStoreMaxCachedMsgs
    }
    fclose(headerFile);"""),
    ("C++/FileStore.cpp",
     """void FileStore::populateCache() {
""",
     """void FileStore::populateCache() {
  m_evictedThrough = 0; // rfq patch: the files are read again from their start
"""),
    ("C++/FileStore.cpp",
     """  std::pair<NumToOffset::iterator, bool> it
      = m_offsets.insert(NumToOffset::value_type(msgSeqNum, std::make_pair(offset, size)));
  if (it.second == false) {
    it.first->second = std::make_pair(offset, size);
  }
  fwrite(""",
     """  remember(msgSeqNum, offset, size); // rfq patch: bounded by FileStoreMaxCachedMsgs
  fwrite("""),
    ("C++/FileStore.cpp",
     """void FileStore::get(SEQNUM begin, SEQNUM end, std::vector<std::string> &result) const EXCEPT(IOException) {
  result.clear();
  std::string msg;
  for (auto i = begin; i <= end && i != 0; ++i) {
    if (get(i, msg)) {
      result.push_back(msg);
    }
  }
}
""",
     '\n// rfq patch: a bounded index of offsets (FileStoreMaxCachedMsgs).\nvoid FileStore::remember(SEQNUM msgSeqNum, int64_t offset, std::size_t size) {\n  std::pair<NumToOffset::iterator, bool> it\n      = m_offsets.insert(NumToOffset::value_type(msgSeqNum, std::make_pair(offset, size)));\n  if (it.second == false) {\n    it.first->second = std::make_pair(offset, size);\n  }\n  trim();\n}\n\nvoid FileStore::trim() {\n  while (m_maxCachedMsgs > 0 && m_offsets.size() > m_maxCachedMsgs) {\n    NumToOffset::iterator oldest = m_offsets.begin();\n    if (oldest->first > m_evictedThrough) {\n      m_evictedThrough = oldest->first;\n    }\n    m_offsets.erase(oldest);\n  }\n}\n\nvoid FileStore::readHeader(SEQNUM begin, SEQNUM end, NumToOffset &found) const {\n  FILE *headerFile = file_fopen(m_headerFileName.c_str(), "r");\n  if (!headerFile) {\n    throw IOException("Unable to open " + m_headerFileName);\n  }\n  SEQNUM msgSeqNum;\n  int64_t offset;\n  std::size_t size;\n  while (FILE_FSCANF(headerFile, "%" SCNu64 ",%" SCNi64 ",%zu ", &msgSeqNum, &offset, &size) == 3) {\n    if (msgSeqNum >= begin && msgSeqNum <= end) {\n      found[msgSeqNum] = std::make_pair(offset, size); // a later entry for the same number wins\n    }\n  }\n  fclose(headerFile);\n}\n\nbool FileStore::readMessage(const OffsetSize &offset, std::string &msg) const {\n  if (FILE_SEEK(m_msgFile, offset.first, SEEK_SET)) {\n    throw IOException("Unable to seek in file " + m_msgFileName);\n  }\n  std::string buffer(offset.second, \'\\0\');\n  size_t result = fread(&buffer[0], sizeof(char), offset.second, m_msgFile);\n  if (ferror(m_msgFile) || result != (size_t)offset.second) {\n    throw IOException("Unable to read from file " + m_msgFileName);\n  }\n  msg.swap(buffer);\n  return true;\n}\n\nvoid FileStore::get(SEQNUM begin, SEQNUM end, std::vector<std::string> &result) const EXCEPT(IOException) {\n  result.clear();\n  NumToOffset older;\n  if (begin <= m_evictedThrough) {\n    readHeader(begin, end < m_evictedThrough ? end : m_evictedThrough, older);\n  }\n  std::string msg;\n  for (auto i = begin; i <= end && i != 0; ++i) {\n    NumToOffset::const_iterator found = older.find(i);\n    if (found != older.end()) {\n      readMessage(found->second, msg);\n      result.push_back(msg);\n    } else if (get(i, msg)) {\n      result.push_back(msg);\n    }\n  }\n}\n'),
    ("C++/FileStore.cpp",
     """  NumToOffset::const_iterator find = m_offsets.find(msgSeqNum);
  if (find == m_offsets.end()) {
    return false;
  }""",
     """  NumToOffset::const_iterator find = m_offsets.find(msgSeqNum);
  if (find == m_offsets.end()) {
    if (msgSeqNum > m_evictedThrough) {
      return false;
    }
    NumToOffset older; // rfq patch: evicted from memory, still in the header file
    readHeader(msgSeqNum, msgSeqNum, older);
    return older.empty() ? false : readMessage(older.begin()->second, msg);
  }"""),
    ("C++/FileStore.cpp",
     """  path = settings.getString(FILE_STORE_PATH);
  return new FileStore(now, path, sessionID);""",
     """  path = settings.getString(FILE_STORE_PATH);
  FileStore *store = new FileStore(now, path, sessionID);
  if (settings.has("FileStoreMaxCachedMsgs")) { // rfq patch: QuickFIX/J's setting
    int maxCached = settings.getInt("FileStoreMaxCachedMsgs");
    store->setMaxCachedMsgs(maxCached > 0 ? (std::size_t)maxCached : 0);
  }
  return store;"""),
    # rfq3: Session::logout disabled the session before storing the reason, so the session's thread
    # could send the Logout in between -- without its Text (seen: a flood logout with no 58).
    ("C++/Session.h",
     """  void logout(const std::string &reason = "") {
    m_state.enabled(false);
    m_state.logoutReason(reason);
  }""",
     """  void logout(const std::string &reason = "") {
    m_state.logoutReason(reason); // rfq patch: the reason first, so the Logout the session's thread sends carries it
    m_state.enabled(false);
  }"""),
    ("setup.cfg", "version = 1.16.0\n", f"version = 1.16.0+{PATCH_LEVEL}\n"),
]


# SWIG wrappers (QuickfixPython.cpp) that keep the GIL: pure in-memory work on one object.
GIL_KEEPING_WRAPPER = re.compile(
    r"_wrap_(?:new_|delete_)?(?:FieldMap|Message|Header|Trailer|Group|FieldBase|StringField|IntField|Int64Field|"
    r"UInt64Field|CharField|BoolField|DoubleField|CheckSumField|UtcTimeStampField|UtcDateField|UtcTimeOnlyField|"
    r"SessionID|IntArray|BeginString|SenderCompID|TargetCompID)(?:_[A-Za-z0-9_]*)?$")
WRAPPER = re.compile(r"^SWIGINTERN PyObject \*(_wrap_[A-Za-z0-9_]+)\(.*?^}\n", re.MULTILINE | re.DOTALL)
GIL_RELEASE_LINE = re.compile(r"^[ \t]*SWIG_PYTHON_THREAD_(?:BEGIN|END)_ALLOW;[ \t]*\n", re.MULTILINE)
MIN_GIL_KEEPING_WRAPPERS = 150  # 1.16.0 has several hundred: far fewer means the generated code changed


def keep_gil_in_value_wrappers(text: str) -> tuple[str, int]:
    """The wrapper source with the GIL release removed from the value classes' wrappers."""
    changed = 0

    def edit(match: re.Match[str]) -> str:
        nonlocal changed
        if not GIL_KEEPING_WRAPPER.match(match.group(1)):
            return match.group(0)
        body, removed = GIL_RELEASE_LINE.subn("", match.group(0))
        changed += removed > 0
        return body

    return WRAPPER.sub(edit, text), changed


def apply_wrapper_edit(source_root: Path) -> int:
    """Edit C++/QuickfixPython.cpp in place; returns how many wrappers now keep the GIL."""
    wrappers = source_root / "C++" / "QuickfixPython.cpp"
    text, changed = keep_gil_in_value_wrappers(wrappers.read_text())
    if changed < MIN_GIL_KEEPING_WRAPPERS:
        raise SystemExit(f"C++/QuickfixPython.cpp: only {changed} value wrappers release the GIL; expected at least "
                         f"{MIN_GIL_KEEPING_WRAPPERS} (the generated code changed)")
    wrappers.write_text(text)
    return changed


def apply(source_root: Path) -> None:
    for relative, old, new in EDITS:
        path = source_root / relative
        text = path.read_text()
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"{relative}: expected the text to patch exactly once, found it {count} times:\n{old}")
        path.write_text(text.replace(old, new))
    changed = apply_wrapper_edit(source_root)
    print(f"patched QuickFIX sources in {source_root} ({len(EDITS)} edits, {changed} wrappers keep the GIL, "
          f"level {PATCH_LEVEL})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    apply(Path(sys.argv[1]))
