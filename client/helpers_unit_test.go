package client

import "sort"

func sortNodes(ns Nodes) { sort.Sort(ns) }
