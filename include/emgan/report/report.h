#pragma once
/// \file report.h
/// Everything of the report domain: display windows and colormaps, the Canvas and
/// bitmap font, image grids, charts, metrics-log plots and the HTML report.
#include "emgan/report/canvas.h"
#include "emgan/report/charts.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"
#include "emgan/report/html.h"
#include "emgan/report/metrics_log.h"
