"""The canvas' view transform (ui/canvas/view.py): document ↔ grid at every zoom, zoom about the
cursor, zoom steps, zoom to fit and which nodes a view needs drawn."""

from __future__ import annotations

import math

import pytest

from dpg_blocks.ui.canvas.view import (
    ZOOM_MAX,
    ZOOM_MIN,
    ZOOM_STEPS,
    View,
    clamp_zoom,
    fit_zoom,
    needed_nodes,
    step_zoom,
)

ZOOMS = (0.25, 0.3, 0.5, 0.9, 1.0, 1.3, 2.0)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_a_document_point_comes_back_from_the_grid_at_every_zoom(zoom):
    view = View(scale=1.3 * zoom, offset=(-417.5, 88.25))  # font 130 %, panned
    for doc in [(0.0, 0.0), (240.0, 20.0), (-1234.5, 9876.0), (1e5, -3e4)]:
        back = view.to_doc(view.to_grid(doc))
        assert back == pytest.approx(doc, abs=1e-7)


@pytest.mark.parametrize("old,new", [(1.0, 0.5), (1.0, 0.25), (0.25, 2.0), (0.6, 0.7), (2.0, 1.0)])
def test_zooming_about_the_cursor_keeps_the_document_point_under_it(old, new):
    view = View(scale=old, offset=(120.0, -40.0))
    cursor = (613.0, 287.0)  # on the grid
    under = view.to_doc(cursor)
    zoomed = view.rescaled(new, about=cursor)
    assert zoomed.scale == new
    assert zoomed.to_grid(under) == pytest.approx(cursor)
    # and the rest of the document scales about that point: a block 100 units right of it is
    # new * 100 pixels right of the cursor
    right = zoomed.to_grid((under[0] + 100.0, under[1]))
    assert right == pytest.approx((cursor[0] + 100.0 * new, cursor[1]))


def test_zooming_out_and_back_in_about_one_point_gives_the_view_back():
    view = View(scale=1.0, offset=(33.0, 44.0))
    cursor = (500.0, 300.0)
    there = view
    for z in (0.9, 0.8, 0.5, 0.25):
        there = there.rescaled(z, cursor)
    for z in (0.5, 0.8, 1.0):
        there = there.rescaled(z, cursor)
    assert there.offset == pytest.approx(view.offset)


def test_a_view_refuses_a_scale_that_is_not_a_positive_number():
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="scale must be a positive number"):
            View(scale=bad)


def test_zoom_steps_go_one_notch_and_stop_at_25_and_200_percent():
    assert step_zoom(1.0, -1) == 0.9 and step_zoom(1.0, 1) == 1.1
    assert step_zoom(1.0, -9) == ZOOM_MIN == 0.25
    assert step_zoom(0.25, -1) == ZOOM_MIN
    assert step_zoom(1.0, 20) == ZOOM_MAX == 2.0
    assert step_zoom(0.296, -1) == 0.25 and step_zoom(0.296, 1) == 0.3  # a fitted zoom between steps
    walk = [ZOOM_MIN]
    while walk[-1] < ZOOM_MAX:
        walk.append(step_zoom(walk[-1], 1))
    assert tuple(walk) == ZOOM_STEPS  # every step is reachable, in order


def test_clamp_keeps_zoom_in_range_and_names_a_bad_value():
    assert clamp_zoom(0.1) == 0.25 and clamp_zoom(5) == 2.0 and clamp_zoom(0.7) == 0.7
    with pytest.raises(ValueError, match="zoom must be a finite number"):
        clamp_zoom(math.nan)


def test_fit_zoom_is_the_ratio_that_fits_the_wider_side():
    boxes = [(0.0, 0.0, 100.0, 50.0), (1900.0, 400.0, 100.0, 50.0)]  # 2000 × 450 px at 100 %
    z = fit_zoom(boxes, 1.0, (1060.0, 660.0), margin=30.0)
    assert z == pytest.approx(0.5)  # 1000 px of room for 2000 px
    # measured at 50 % the same graph asks for the same zoom
    half = [(x / 2, y / 2, w / 2, h / 2) for x, y, w, h in boxes]
    assert fit_zoom(half, 0.5, (1060.0, 660.0), margin=30.0) == pytest.approx(0.5)
    tall = [(0.0, 0.0, 100.0, 3000.0)]
    assert fit_zoom(tall, 1.0, (1060.0, 660.0), margin=30.0) == pytest.approx(0.2)  # below 25 %: cannot fit


def test_culling_keeps_nodes_in_view_and_both_ends_of_links_crossing_it():
    view = (0.0, 0.0, 1000.0, 600.0)
    rects = {
        "in_view": (100.0, 100.0, 120.0, 80.0),
        "left": (-3000.0, 300.0, 120.0, 80.0),  # outside, but its link to "right" crosses the view
        "right": (4000.0, 300.0, 120.0, 80.0),
        "far": (5000.0, 5000.0, 120.0, 80.0),  # outside, linked only to "far2", also outside
        "far2": (5400.0, 5000.0, 120.0, 80.0),
        "edge": (990.0, 590.0, 120.0, 80.0),  # overlaps the view's corner
        "feeds": (-800.0, -900.0, 120.0, 80.0),  # outside, linked to a node in view
    }
    links = [("left", "right"), ("far", "far2"), ("feeds", "in_view")]
    shown = needed_nodes(rects, links, view)
    assert shown == {"in_view", "left", "right", "edge", "feeds"}
