"""The real-mouth readout: from the front end's posteriors to tracked mouths of real people speaking."""
