"""Reports: indicators built into a ReportDocument (document.py), rendered as CSV, XLSX or PDF."""
