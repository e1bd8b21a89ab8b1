"""Desktop input backend of the capture agent: clicks and scrolls via pynput; on X11 the pointer position, the
focused window's class (libX11 through ctypes, falling back to python-xlib, which pynput brings along) and the
screen geometry (python-xlib, once per session).

Only a *mouse* listener is ever created. On X11 it is narrowed to button press / release events (the
pointer position is polled by the agent's sampler, so motion events are not needed); the keyboard is not
observed at all. Window titles (``WM_NAME`` / ``_NET_WM_NAME``) are never read: only ``WM_CLASS``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
from collections.abc import Callable

#: pynput button names → bit in ``samples.buttons``
BUTTON_BITS = {"left": 1, "right": 2, "middle": 4}


class BackendUnavailable(RuntimeError):
    """Desktop capture cannot run here (optional extra missing, no display); the message says what to do."""


def _import_pynput_mouse():
    if importlib.util.find_spec("pynput") is None:
        raise BackendUnavailable(
            "desktop capture needs pynput, an optional extra: pip install 'mouselab[capture]'"
        )
    try:
        from pynput import mouse
    except ImportError as exc:  # pynput raises ImportError when it cannot reach a display server
        first = " ".join(str(exc).split("\n")[0].split())
        raise BackendUnavailable(
            f"pynput cannot reach the display ({first}); run inside a desktop session or set DISPLAY"
        ) from None
    return mouse


class LibX11Probe:
    """Pointer, button mask and focused window class through libX11 via ctypes, for the sampler thread only.

    One C call per sample (``XQueryPointer``) instead of a pure-Python protocol round trip keeps the agent's
    CPU use low. X errors (e.g. a window closed between two calls) are caught by our own error handler
    instead of libX11's default one, which would end the process.
    """

    _ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

    class _ClassHint(ctypes.Structure):
        _fields_ = [("res_name", ctypes.c_void_p), ("res_class", ctypes.c_void_p)]

    def __init__(self) -> None:
        name = ctypes.util.find_library("X11")
        if not name:
            raise OSError("libX11 not found")
        x = ctypes.CDLL(name)
        ulong, p_ulong = ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong)
        p_int, p_uint = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint)
        x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
        x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ulong, [ctypes.c_void_p]
        x.XQueryPointer.argtypes = [ctypes.c_void_p, ulong, p_ulong, p_ulong, p_int, p_int, p_int, p_int, p_uint]
        x.XInternAtom.restype, x.XInternAtom.argtypes = ulong, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XGetWindowProperty.argtypes = [ctypes.c_void_p, ulong, ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                         ulong, p_ulong, p_int, p_ulong, p_ulong, ctypes.POINTER(ctypes.c_void_p)]
        x.XGetInputFocus.argtypes = [ctypes.c_void_p, p_ulong, p_int]
        x.XGetClassHint.argtypes = [ctypes.c_void_p, ulong, ctypes.POINTER(self._ClassHint)]
        x.XQueryTree.argtypes = [ctypes.c_void_p, ulong, p_ulong, p_ulong, ctypes.POINTER(ctypes.c_void_p), p_uint]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._x = x
        self._failed = False
        self._handler = self._ERROR_HANDLER(self._on_error)  # keep a reference: libX11 holds the pointer
        x.XSetErrorHandler(self._handler)
        self._display = x.XOpenDisplay(None)
        if not self._display:
            raise OSError("XOpenDisplay failed")
        self._root = x.XDefaultRootWindow(self._display)
        self._active = x.XInternAtom(self._display, b"_NET_ACTIVE_WINDOW", 1)
        self._out = [ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int(),
                     ctypes.c_int(), ctypes.c_uint()]
        self._args = (self._display, self._root, *(ctypes.byref(v) for v in self._out))

    def _on_error(self, _display, _event) -> int:
        self._failed = True
        return 0

    def pointer(self) -> tuple[float, float, int]:
        """Root x, y and the pressed buttons as the contract's bitmask (1 left, 2 right, 4 middle)."""
        self._x.XQueryPointer(*self._args)
        out = self._out
        mask = out[6].value
        buttons = (1 if mask & 0x100 else 0) | (4 if mask & 0x200 else 0) | (2 if mask & 0x400 else 0)
        return float(out[2].value), float(out[3].value), buttons

    def focused_class(self) -> str | None:
        """WM_CLASS (class part) of the active window, or None when it cannot be known. Never the title."""
        x, d = self._x, self._display
        self._failed = False
        window = 0
        if self._active:
            kind, fmt, n, after = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
            data = ctypes.c_void_p()
            ok = x.XGetWindowProperty(d, self._root, self._active, 0, 1, 0, 0, ctypes.byref(kind), ctypes.byref(fmt),
                                      ctypes.byref(n), ctypes.byref(after), ctypes.byref(data))
            if ok == 0 and data.value:
                if n.value and fmt.value == 32:
                    window = ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[0]
                x.XFree(data)
        if not window:  # no window manager (e.g. Xvfb): the input focus
            focus, revert = ctypes.c_ulong(), ctypes.c_int()
            x.XGetInputFocus(d, ctypes.byref(focus), ctypes.byref(revert))
            window = focus.value if focus.value > 1 else 0  # 0 None, 1 PointerRoot
        for _ in range(16):
            if not window or self._failed:
                return None
            hint = self._ClassHint()
            if x.XGetClassHint(d, window, ctypes.byref(hint)) and not self._failed:
                name = ctypes.string_at(hint.res_name).decode("utf-8", "replace") if hint.res_name else ""
                cls = ctypes.string_at(hint.res_class).decode("utf-8", "replace") if hint.res_class else ""
                for ptr in (hint.res_name, hint.res_class):
                    if ptr:
                        x.XFree(ptr)
                return cls or name or None
            root, parent, children, count = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p(), ctypes.c_uint()
            if not x.XQueryTree(d, window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(count)):
                return None
            if children.value:
                x.XFree(children)
            if self._failed or parent.value in (0, root.value):
                return None
            window = parent.value
        return None

    def close(self) -> None:
        if self._display:
            self._x.XCloseDisplay(self._display)
            self._display = None


class X11Probe:
    """A python-xlib connection (fallback when libX11 cannot be loaded) and the screen geometry."""

    def __init__(self) -> None:
        from Xlib import X, display, error

        self._X, self._error = X, error
        self.display = display.Display()
        self.root = self.display.screen().root
        self._active = self.display.intern_atom("_NET_ACTIVE_WINDOW")

    def pointer(self) -> tuple[float, float, int]:
        reply = self.root.query_pointer()
        mask = reply.mask
        buttons = (1 if mask & 0x100 else 0) | (4 if mask & 0x200 else 0) | (2 if mask & 0x400 else 0)
        return float(reply.root_x), float(reply.root_y), buttons

    def focused_class(self) -> str | None:
        """WM_CLASS (class part) of the active window, or None when it cannot be known. Never the title."""
        X, errors = self._X, self._error
        try:
            prop = self.root.get_full_property(self._active, X.AnyPropertyType)
            if prop is not None and len(prop.value) and int(prop.value[0]):
                window = self.display.create_resource_object("window", int(prop.value[0]))
            else:  # no window manager (e.g. Xvfb): the input focus
                window = self.display.get_input_focus().focus
                if window is None or isinstance(window, int):
                    return None
            for _ in range(16):
                wm_class = window.get_wm_class()
                if wm_class:
                    return wm_class[1] or wm_class[0] or None
                parent = window.query_tree().parent
                if not parent or isinstance(parent, int) or parent.id == self.root.id:
                    return None
                window = parent
        except (errors.XError, errors.ConnectionClosedError, AttributeError, TypeError):
            return None
        return None

    def screen(self) -> dict:
        """Screen size in px and mm, DPI, Xft.dpi scaling and RandR monitors (geometry only, no names)."""
        screen = self.display.screen()
        info: dict = {
            "width_px": screen.width_in_pixels,
            "height_px": screen.height_in_pixels,
            "width_mm": screen.width_in_mms,
            "height_mm": screen.height_in_mms,
        }
        if screen.width_in_mms and screen.height_in_mms:
            info["dpi_x"] = round(screen.width_in_pixels * 25.4 / screen.width_in_mms, 2)
            info["dpi_y"] = round(screen.height_in_pixels * 25.4 / screen.height_in_mms, 2)
        xft = self._xft_dpi()
        info["xft_dpi"] = xft
        info["scale"] = _scale_from_env() or (round(xft / 96.0, 3) if xft else 1.0)
        try:
            if self.display.has_extension("RANDR"):
                reply = self.root.xrandr_get_monitors()
                info["monitors"] = [
                    {
                        "x": m.x, "y": m.y, "width_px": m.width_in_pixels, "height_px": m.height_in_pixels,
                        "width_mm": m.width_in_millimeters, "height_mm": m.height_in_millimeters,
                        "primary": bool(m.primary),
                    }
                    for m in reply.monitors
                ]
        except Exception:  # noqa: BLE001 — optional detail; old servers lack RandR 1.5
            pass
        return info

    def _xft_dpi(self) -> float | None:
        from Xlib import Xatom

        try:
            prop = self.root.get_full_property(Xatom.RESOURCE_MANAGER, Xatom.STRING)
        except Exception:  # noqa: BLE001
            return None
        if prop is None:
            return None
        text = prop.value.decode("latin-1") if isinstance(prop.value, bytes) else str(prop.value)
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Xft.dpi":
                try:
                    return float(value.strip())
                except ValueError:
                    return None
        return None

    def close(self) -> None:
        try:
            self.display.close()
        except Exception:  # noqa: BLE001
            pass


def _scale_from_env() -> float | None:
    for name in ("GDK_SCALE", "QT_SCALE_FACTOR"):
        value = os.environ.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return None


class DesktopBackend:
    """pynput mouse listener + pointer polling (libX11 or python-xlib on X11, pynput's controller elsewhere)."""

    name = "pynput"

    def __init__(self) -> None:
        mouse = _import_pynput_mouse()
        listener = mouse.Listener
        self.x11 = None
        self._geometry: dict = {"display_server": "unknown"}
        if listener.__module__.endswith("._xorg"):
            self.name = "pynput-xorg"
            try:
                xlib = X11Probe()
                self._geometry = {"display_server": "x11", **xlib.screen()}
            except Exception as exc:  # noqa: BLE001
                raise BackendUnavailable(f"cannot open the X display ({exc}); is DISPLAY set?") from None
            try:
                self.x11 = LibX11Probe()
                xlib.close()
            except OSError:
                self.x11 = xlib
            if hasattr(listener, "_EVENTS"):
                from Xlib import X

                class _ButtonsOnly(listener):  # record button events only; the sampler polls the position
                    _EVENTS = (X.ButtonPress, X.ButtonRelease)

                listener = _ButtonsOnly
        self._listener_cls = listener
        self._controller = None if self.x11 else mouse.Controller()
        self._listener = None

    def position(self) -> tuple[float, ...]:
        """(x, y) or, when the platform reports it, (x, y, buttons bitmask)."""
        if self.x11 is not None:
            return self.x11.pointer()
        x, y = self._controller.position
        return float(x), float(y)

    def start(self, on_click: Callable, on_scroll: Callable) -> None:
        """Start the mouse listener; ``on_click(x, y, button_name, pressed)``, ``on_scroll(x, y, dx, dy)``
        with dx, dy in wheel steps in the browser convention (positive = right / down)."""

        def click(x, y, button, pressed, *_):
            on_click(float(x), float(y), getattr(button, "name", str(button)), bool(pressed))

        def scroll(x, y, dx, dy, *_):
            on_scroll(float(x), float(y), float(dx), float(-dy))  # pynput: dy > 0 is up; contract: down

        self._listener = self._listener_cls(on_click=click, on_scroll=scroll)
        self._listener.start()
        self._listener.wait()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()  # pynput's X11 listener may only notice at its next event: don't wait long
            self._listener.join(0.2)
            self._listener = None
        if self.x11 is not None:
            self.x11.close()
            self.x11 = None

    def focused_class(self) -> str | None:
        return self.x11.focused_class() if self.x11 is not None else None

    def screen(self) -> dict:
        return dict(self._geometry)
