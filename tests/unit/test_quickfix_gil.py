"""tools/quickfix/patch_sources.py (rfq3): the value classes' SWIG wrappers keep the GIL, session
and engine wrappers still release it. Checked on the wrapper source the build edits; the
installed build's level is checked at start (transport.fix.engine.check_quickfix_build)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

PATCH_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "quickfix" / "patch_sources.py"


def wrapper(name: str) -> str:
    """A wrapper as SWIG 4 generates it for QuickFIX 1.16.0 (trimmed to the GIL lines)."""
    return (f"SWIGINTERN PyObject *_wrap_{name}(PyObject *self, Py_ssize_t nobjs, PyObject **swig_obj) {{\n"
            "  PyObject *resultobj = 0;\n"
            "  {\n"
            "    if(!tryPythonException([&]() mutable \n"
            "        {\n"
            "      {\n"
            "        SWIG_PYTHON_THREAD_BEGIN_ALLOW;\n"
            "            result = call();\n"
            "            SWIG_PYTHON_THREAD_END_ALLOW;\n"
            "          }\n"
            "          return true;\n"
            "        })) \n"
            "    {\n"
            "      SWIG_fail;\n"
            "    }\n"
            "  }\n"
            "  return resultobj;\n"
            "}\n\n")


@pytest.fixture(scope="module")
def patch() -> ModuleType:
    spec = importlib.util.spec_from_file_location("patch_sources", PATCH_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KEEPS_GIL = ["FieldMap_getField__SWIG_1", "FieldMap_setField__SWIG_2", "FieldMap_isSetField__SWIG_1",
             "Message_getHeader", "Message_toString__SWIG_0", "new_Message__SWIG_3", "delete_Message",
             "new_Group__SWIG_1", "FieldMap_getGroup", "StringField_getValue", "new_StringField__SWIG_0",
             "SessionID_getTargetCompID", "new_SessionID__SWIG_1", "IntArray___setitem__", "new_BeginString"]
RELEASES_GIL = ["Session_sendToTarget__SWIG_0", "Session_lookupSession", "Session_logout__SWIG_0",
                "SocketAcceptorBase_start", "ThreadedSocketAcceptorBase_stop__SWIG_0", "Initiator_start",
                "FileStore_set", "FileLog_onIncoming", "MessageStore_set", "MessageStoreFactory_create",
                "DataDictionary_validate__SWIG_0", "SessionSettings_get__SWIG_0", "SynchronizedApplication_toApp"]


def test_value_wrappers_keep_the_gil_and_session_wrappers_release_it(patch: ModuleType) -> None:
    source = "".join(wrapper(name) for name in KEEPS_GIL + RELEASES_GIL)
    edited, changed = patch.keep_gil_in_value_wrappers(source)
    assert changed == len(KEEPS_GIL)
    for name in KEEPS_GIL:
        body = edited.split(f"_wrap_{name}(", 1)[1].split("\n}\n", 1)[0]
        assert "THREAD_BEGIN_ALLOW" not in body and "THREAD_END_ALLOW" not in body, name
        assert "result = call();" in body, name
    for name in RELEASES_GIL:
        body = edited.split(f"_wrap_{name}(", 1)[1].split("\n}\n", 1)[0]
        assert body.count("SWIG_PYTHON_THREAD_BEGIN_ALLOW;") == 1, name
        assert body.count("SWIG_PYTHON_THREAD_END_ALLOW;") == 1, name


def test_a_wrapper_source_without_value_wrappers_stops_the_build(patch: ModuleType, tmp_path: Path) -> None:
    """Generated code that no longer matches (another SWIG, another release) must not build half-patched."""
    root = tmp_path / "quickfix-1.16.0"
    (root / "C++").mkdir(parents=True)
    (root / "C++" / "QuickfixPython.cpp").write_text(wrapper("Session_lookupSession"))
    with pytest.raises(SystemExit, match="value wrappers"):
        patch.apply_wrapper_edit(root)
