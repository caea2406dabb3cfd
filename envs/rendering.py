"""Offscreen RGB frames of a motorsleep env, drawn by MuJoCo's own renderer on a machine without a screen.

The OpenGL backend is ``MUJOCO_GL``'s (default ``egl``), read when a renderer is made rather
than when ``mujoco`` is imported (as ``mujoco.Renderer`` does), so rendering works whatever
imported mujoco first. On a CPU machine EGL runs on Mesa's software rasteriser: Debian's
``libegl1``, ``libopengl0`` and ``libgl1-mesa-dri`` (installed by ``scripts/setup.sh``);
``MUJOCO_GL=osmesa`` with ``libosmesa6`` is the alternative.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import gymnasium
import mujoco
import numpy as np

DEFAULT_GL = "egl"
GL_BACKENDS = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa", "glfw": "mujoco.glfw"}
MAX_GEOM = 10_000  # room in the scene for the model's geoms and a trace
GL_HELP = ("offscreen rendering needs an OpenGL backend: Debian's libegl1 libopengl0 libgl1-mesa-dri for "
           "MUJOCO_GL=egl (the default; scripts/setup.sh installs them), or libosmesa6 for MUJOCO_GL=osmesa")
TRACE_RGBA = (0.1, 0.4, 0.9, 0.5)


class FrameRenderer:
    """RGB frames of one env's current state, seen from the env's default camera.

    Each frame is drawn from a copy of the env's ``MjData`` brought up to date with
    ``mj_forward``: MuJoCo's positions lag one physics step behind the state after
    ``mj_step``, and the copy leaves the env's own data (and so the policy's observations)
    untouched. Shadows are off: on a software rasteriser they cost about seven times the
    rest of the frame, and these planar scenes do not need them.

    Args:
        env: a MuJoCo env (any wrappers); its ``default_camera_config`` sets the view.
        width, height: frame size in pixels.
        trace_site: name of a site whose past positions are drawn as small spheres, e.g.
            ``"hand"`` to show a reach's path; the trace restarts at :meth:`reset_trace`.
        zoom: magnification of the default view (the camera moves closer).
        lookat: the point the camera looks at (x, y, z in m), instead of the default view's.
        body_alpha: opacity of the geoms of moving bodies; below 1 they let the trace and the
            sites they cover (a reach's target) show through.
    """

    def __init__(self, env: gymnasium.Env, width: int, height: int, trace_site: str | None = None,
                 zoom: float = 1.0, lookat: tuple[float, float, float] | None = None,
                 body_alpha: float = 1.0) -> None:
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 1 (pixels)")
        if not zoom > 0:
            raise ValueError(f"zoom={zoom!r} is not allowed: expected a number > 0")
        if not 0 < body_alpha <= 1:
            raise ValueError(f"body_alpha={body_alpha!r} is not allowed: expected a number in (0, 1]")
        self.body_alpha = float(body_alpha)
        base = env.unwrapped
        self.model: mujoco.MjModel = base.model
        self.data: mujoco.MjData = base.data
        self._site = None
        if trace_site is not None:
            sites = site_names(env)
            if trace_site not in sites:
                raise ValueError(f"trace_site={trace_site!r} is not allowed: this env's sites are {sites}")
            self._site = self.model.site(trace_site).id
        visual = self.model.vis.global_
        visual.offwidth, visual.offheight = max(visual.offwidth, int(width)), max(visual.offheight, int(height))
        self._gl = gl_context(int(width), int(height))
        try:
            self._context = mujoco.MjrContext(self.model, mujoco.mjtFontScale.mjFONTSCALE_150)
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        except Exception:
            self._gl.free()
            raise
        self._viewport = mujoco.MjrRect(0, 0, int(width), int(height))
        self._pixels = np.empty((int(height), int(width), 3), dtype=np.uint8)
        self._scene = mujoco.MjvScene(self.model, maxgeom=MAX_GEOM)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        self._option = mujoco.MjvOption()
        self._camera = _camera(self.model, getattr(getattr(base, "mujoco_renderer", None), "default_cam_config", None))
        self._camera.distance /= zoom
        if lookat is not None:
            self._camera.lookat[:] = lookat
        self._view = mujoco.MjData(self.model)
        self._trace: list[np.ndarray] = []

    @property
    def traces(self) -> bool:
        return self._site is not None

    def reset_trace(self) -> None:
        self._trace = []

    def track(self) -> None:
        """Bring the view up to the env's state and extend the trace, without drawing (for the
        steps between two frames of a video)."""
        mujoco.mj_copyData(self._view, self.model, self.data)
        mujoco.mj_forward(self.model, self._view)
        if self._site is not None:
            self._trace.append(self._view.site_xpos[self._site].copy())

    def frame(self) -> np.ndarray:
        """The current state as a ``(height, width, 3)`` uint8 array (extends the trace)."""
        self.track()
        scene = self._scene
        mujoco.mjv_updateScene(self.model, self._view, self._option, None, self._camera,
                               mujoco.mjtCatBit.mjCAT_ALL, scene)
        if self.body_alpha < 1:
            moving = self.model.geom_bodyid
            for geom in scene.geoms[:scene.ngeom]:
                if geom.objtype == mujoco.mjtObj.mjOBJ_GEOM and moving[geom.objid] != 0:
                    geom.rgba[3] *= self.body_alpha
        if self._site is not None:
            radius = 0.5 * float(self.model.site_size[self._site][0])
            room = scene.maxgeom - scene.ngeom  # the scene's geom buffer is fixed: keep the latest points
            for position in self._trace[max(0, len(self._trace) - room):]:
                mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE,
                                    np.array([radius, 0.0, 0.0]), position, np.eye(3).ravel(),
                                    np.array(TRACE_RGBA, dtype=np.float32))
                scene.ngeom += 1
        self._gl.make_current()
        mujoco.mjr_render(self._viewport, scene, self._context)
        mujoco.mjr_readPixels(self._pixels, None, self._viewport, self._context)
        return np.flipud(self._pixels).copy()  # OpenGL's rows run bottom to top

    def close(self) -> None:
        if self._gl is not None:
            self._gl.make_current()
            self._context.free()
            self._gl.free()
            self._gl = None

    def __enter__(self) -> FrameRenderer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def gl_context(width: int, height: int) -> Any:
    """A current offscreen OpenGL context of ``MUJOCO_GL``'s backend (default ``egl``)."""
    name = os.environ.get("MUJOCO_GL", "").strip().lower() or DEFAULT_GL
    if name not in GL_BACKENDS:
        raise ValueError(f"MUJOCO_GL={name!r} is not allowed: expected one of {sorted(GL_BACKENDS)}")
    context = None
    try:
        context = importlib.import_module(GL_BACKENDS[name]).GLContext(width, height)
        context.make_current()
        # some backends only warn when they fail (GLFW without a display): MuJoCo's own
        # context on an empty model raises unless an OpenGL context is really current
        mujoco.MjrContext(mujoco.MjModel.from_xml_string("<mujoco/>"), mujoco.mjtFontScale.mjFONTSCALE_100).free()
    except Exception as error:  # each backend raises its own types when its libraries are missing
        if context is not None:
            context.free()
        raise RuntimeError(f"MUJOCO_GL={name!r} cannot render offscreen ({type(error).__name__}: {error}): "
                           f"{GL_HELP}") from error
    return context


def site_names(env: gymnasium.Env) -> list[str]:
    """Names of the env's sites (the choices of ``trace_site``)."""
    model = env.unwrapped.model
    return [model.site(i).name for i in range(model.nsite)]


def _camera(model: mujoco.MjModel, config: Mapping[str, Any] | None) -> mujoco.MjvCamera:
    """A free camera set as gymnasium's MuJoCo renderer sets it from ``default_camera_config``."""
    camera = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, camera)
    for key, value in (config or {}).items():
        if isinstance(value, np.ndarray | list | tuple):
            getattr(camera, key)[:] = value
        else:
            setattr(camera, key, value)
    return camera
