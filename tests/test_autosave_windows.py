"""Crash recovery with several windows: one locked autosave per window, nothing lost when one closes or crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from app.gui.autosave import pending_recoveries, recovered_files
from engine.core.pattern import Pattern
from tests.gui_support import DialogLog, make_window


def _edit(w, y: int, x: int, color: int) -> None:
    w.edit.set_color(color)
    w.edit.set_tool("pencil")
    w.edit.press(y, x)
    w.edit.release()


def _window_with_edit(qtbot, monkeypatch, pattern, tmp_path, name, color, dialogs=None):
    w, dialogs = make_window(qtbot, monkeypatch, dialogs)
    path = tmp_path / name
    pattern.save(path)
    assert w.open_project(path)
    _edit(w, 2, 3, color)
    assert w.autosaver.save_now(block=True) == w.autosaver.path
    return w, dialogs


def test_two_windows_keep_separate_autosaves_and_delete_only_their_own(qtbot, monkeypatch, small_pattern, tmp_path):
    w1, _ = _window_with_edit(qtbot, monkeypatch, small_pattern, tmp_path, "a.pixl", 1)
    w2, _ = _window_with_edit(qtbot, monkeypatch, small_pattern, tmp_path, "b.pixl", 7)
    assert w1.autosaver.path != w2.autosaver.path
    assert Pattern.load(w1.autosaver.path).get_cell(2, 3) == 1
    assert Pattern.load(w2.autosaver.path).get_cell(2, 3) == 7
    # both windows alive: neither autosave is offered for recovery
    assert pending_recoveries() == []
    # the second window closes cleanly (discarding its changes): the first one's autosave survives intact
    w2.doc.undo_stack.setClean()
    w2.close()
    assert not w2.autosaver.path.exists()
    assert Pattern.load(w1.autosaver.path).get_cell(2, 3) == 1
    # another edit in the first window rewrites only its own file
    _edit(w1, 4, 4, 2)
    w1.autosaver.save_now(block=True)
    assert Pattern.load(w1.autosaver.path).get_cell(4, 4) == 2
    w1.doc.undo_stack.setClean()
    w1.close()
    assert not w1.autosaver.path.exists()


def test_crashed_window_is_recovered_by_the_next_one(qtbot, monkeypatch, small_pattern, tmp_path):
    w1, _ = _window_with_edit(qtbot, monkeypatch, small_pattern, tmp_path, "a.pixl", 3)
    w_alive, _ = _window_with_edit(qtbot, monkeypatch, small_pattern, tmp_path, "b.pixl", 5)
    w1.autosaver.abandon()  # killed: lock gone, file stays
    w1.hide()
    assert pending_recoveries() == [w1.autosaver.path]  # the live window's autosave is not offered
    w3, dialogs = make_window(qtbot, monkeypatch)
    assert w3.check_recovery()
    assert w3.doc.pattern.get_cell(2, 3) == 3 and w3.doc.modified and w3.doc.path == tmp_path / "a.pixl"
    # adopted: the crashed file is now w3's own autosave, the live window's file untouched
    assert w3.autosaver.path.is_file() and not w1.autosaver.path.exists()
    assert Pattern.load(w_alive.autosaver.path).get_cell(2, 3) == 5
    assert pending_recoveries() == []
    for w in (w3, w_alive):
        w.doc.undo_stack.setClean()
        w.close()


def test_declining_restore_keeps_a_copy_listed_in_recover(qtbot, monkeypatch, small_pattern, tmp_path):
    w1, _ = _window_with_edit(qtbot, monkeypatch, small_pattern, tmp_path, "a.pixl", 9)
    w1.autosaver.abandon()
    w1.hide()
    w2, dialogs = make_window(qtbot, monkeypatch, DialogLog(restore_answer=False))
    assert not w2.check_recovery()
    kept = recovered_files()
    assert len(kept) == 1 and not w1.autosaver.path.exists()
    assert Pattern.load(kept[0]).get_cell(2, 3) == 9
    titles = [a.text() for a in w2.recover_menu.actions()]
    assert titles == [kept[0].name] and w2.recover_menu.isEnabled()
    assert w2.open_recovered(kept[0])
    assert w2.doc.pattern.get_cell(2, 3) == 9 and w2.doc.modified
    assert kept[0].exists()  # opening it does not consume the kept copy
    w2.doc.undo_stack.setClean()
    w2.close()


def test_autosave_of_a_killed_process_is_offered_only_after_it_died(qtbot, monkeypatch, small_pattern, tmp_path):
    """A real second process holds its autosave's lock; kill -9 releases it and the file becomes recoverable."""
    from app.gui.autosave import autosave_dir

    target = autosave_dir() / "autosave-999999-abcd.pixl"
    small_pattern.save(target)
    code = ("import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target.with_suffix(".lock"))], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert pending_recoveries() == []  # its owner is alive
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert pending_recoveries() == [target]
    w, _ = make_window(qtbot, monkeypatch)
    assert w.check_recovery()
    assert (w.doc.pattern.index == small_pattern.index).all()
    w.doc.undo_stack.setClean()
    w.close()


def test_autosave_serialises_off_the_gui_thread(qtbot, monkeypatch, small_pattern, tmp_path):
    seen: list[str] = []
    original = Pattern.save

    def recording_save(self, path):
        seen.append(threading.current_thread().name)
        return original(self, path)

    monkeypatch.setattr(Pattern, "save", recording_save)
    w, _ = make_window(qtbot, monkeypatch)
    path = tmp_path / "big.pixl"
    big = Pattern(small_pattern.index.repeat(40, 0).repeat(40, 1), small_pattern.palette)
    original(big, path)
    assert w.open_project(path)
    _edit(w, 100, 100, 1)
    assert w.autosaver.save_now() == w.autosaver.path  # returns at once; the worker writes
    assert w.autosaver.wait()
    assert seen and all(name != threading.main_thread().name for name in seen)
    assert Pattern.load(w.autosaver.path).get_cell(100, 100) == 1
    w.doc.undo_stack.setClean()
    w.close()
