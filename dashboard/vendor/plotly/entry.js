'use strict';
// plotly.js with only the trace types dashboard/figures.py draws. `scatter` comes with the core.
// Scattermap (tiles through MapLibre) is left out: with a tile server set, the dashboard uses
// the full plotly.js instead (dashboard/app.py).
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/funnel'),
]);

module.exports = Plotly;
